// Which auth mode applies to a request: the service's own mode, overridden by its longest matching route
// prefix. Resolved on every request, so everything is precomputed once and the lookup allocates nothing.
import type { AuthMode, ServiceAuthConfig } from './config.js';

/** Resolves the auth mode for a matched service (null: none matched) and its service-relative path. */
export type AuthModeResolver = (service: string | null, rest: string) => AuthMode;

interface RoutePrefix {
  /** The prefix as configured; a match needs `rest` to equal it or continue with a '/'. */
  readonly prefix: string;
  /** Whether the configured prefix already ends with '/', so any continuation matches. */
  readonly open: boolean;
  readonly mode: AuthMode;
}

interface ServiceModes {
  readonly mode: AuthMode;
  /** Longest prefix first, so the first match is the winner. */
  readonly routes: readonly RoutePrefix[];
}

/**
 * Prefixes match on path-segment boundaries: `/admin` covers `/admin` and `/admin/x` but not
 * `/administrator` (a plain string prefix would silently widen the rule).
 */
export function createAuthModeResolver(
  services: Readonly<Record<string, ServiceAuthConfig>>,
  defaultMode: AuthMode,
): AuthModeResolver {
  const table = new Map<string, ServiceModes>();
  for (const [name, config] of Object.entries(services)) {
    if (typeof config === 'string') {
      table.set(name, { mode: config, routes: [] });
      continue;
    }
    const routes = config.routes
      .map((route) => ({ prefix: route.prefix, open: route.prefix.endsWith('/'), mode: route.mode }))
      .sort((a, b) => b.prefix.length - a.prefix.length);
    table.set(name, { mode: config.mode, routes });
  }

  return (service, rest) => {
    if (service === null) return defaultMode;
    const modes = table.get(service);
    if (modes === undefined) return defaultMode;
    const routes = modes.routes;
    for (let i = 0; i < routes.length; i++) {
      const route = routes[i]!;
      if (!rest.startsWith(route.prefix)) continue;
      if (
        route.open ||
        rest.length === route.prefix.length ||
        rest.charCodeAt(route.prefix.length) === 47 /* / */
      ) {
        return route.mode;
      }
    }
    return modes.mode;
  };
}
