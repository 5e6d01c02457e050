import type { ResolvedService } from '../config/load.js';

export interface ServiceMatch {
  readonly service: ResolvedService;
  /** The path after the prefix, starting with '/'. */
  readonly rest: string;
}

/**
 * Maps a canonical path to a service by prefix, longest prefix first. `/api/ac` (the prefix without its
 * trailing slash) also matches, with rest '/'.
 */
export class ServiceTable {
  readonly #byLength: ResolvedService[];
  readonly names: readonly string[];

  constructor(services: readonly ResolvedService[]) {
    this.#byLength = [...services].sort((a, b) => b.prefix.length - a.prefix.length);
    this.names = services.map((s) => s.name);
  }

  match(path: string): ServiceMatch | null {
    for (const service of this.#byLength) {
      const prefix = service.prefix;
      if (path.startsWith(prefix)) return { service, rest: path.slice(prefix.length - 1) };
      if (path.length === prefix.length - 1 && prefix.startsWith(path)) return { service, rest: '/' };
    }
    return null;
  }
}
