// Builtins a compiled policy imports from its host. Most builtins are compiled into policy.wasm; the
// few that are not are run by the SDK (listed below) or by us (HOST_BUILTINS). The default policy needs
// none from the host today, so HOST_BUILTINS starts empty; what it does need is that a bundle asking for
// a builtin nobody provides is refused at load time (422) instead of failing every request.

export type HostBuiltin = (...args: unknown[]) => unknown;

/** Builtins @open-policy-agent/opa-wasm 1.10 implements itself (src/builtins/). */
export const SDK_BUILTINS: ReadonlySet<string> = new Set([
  'json.is_valid',
  'sprintf',
  'regex.split',
  'yaml.is_valid',
  'yaml.marshal',
  'yaml.unmarshal',
]);

/** Builtins this gateway provides in TypeScript, passed to loadPolicy as customBuiltins. */
export const HOST_BUILTINS: Readonly<Record<string, HostBuiltin>> = Object.freeze({});

/** The builtins `required` (from the module's builtins() export) that nobody can run. */
export function missingBuiltins(
  required: Iterable<string>,
  host: Readonly<Record<string, HostBuiltin>> = HOST_BUILTINS,
): string[] {
  const missing: string[] = [];
  for (const name of required) if (!SDK_BUILTINS.has(name) && !Object.hasOwn(host, name)) missing.push(name);
  return missing.sort();
}

/**
 * Builtins whose answer depends on nothing but their arguments. A module importing any other builtin
 * (time.now_ns, rand.intn, uuid.rfc4122, http.send, opa.runtime, net.lookup_ip_addr: all of these are
 * host imports in OPA's wasm target, never compiled in) is not a pure function of its input, and its
 * decisions are never cached. Every builtin compiled into the module is pure.
 */
const DETERMINISTIC_BUILTINS: ReadonlySet<string> = SDK_BUILTINS;

export function isDeterministic(builtin: string): boolean {
  return DETERMINISTIC_BUILTINS.has(builtin);
}
