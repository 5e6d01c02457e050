// The PolicyEngine interface and its opa-wasm implementation. Evaluation is synchronous: a request
// that started evaluating on an engine finishes on it, whatever the manager swaps in meanwhile.
import * as opaWasm from '@open-policy-agent/opa-wasm';
import { HOST_BUILTINS, type HostBuiltin, isDeterministic, missingBuiltins } from './builtins.js';
import { BundleError } from './bundle-error.js';
import { checkDecision, type PolicyDecision } from './decision.js';
import { DecisionCache } from './decision-cache.js';
import type { AdminPolicyInput, ProjectedInput } from './input.js';
import { type InputProjection, readProjection } from './projection.js';
import { readJsonAt, TextEvaluation } from './text-evaluation.js';

export const DECISION_ENTRYPOINT = 'acgs/gateway/decision';
export const ADMIN_ENTRYPOINT = 'acgs/gateway/admin_decision';
const WASM_PAGE = 64 * 1024;

type LoadedPolicy = opaWasm.LoadedPolicy;
const { loadPolicy } = opaWasm;
// The ESM entry re-exports only loadPolicy; the synchronous loader lives on the CommonJS default export.
const { loadPolicySync } = (
  opaWasm as unknown as { default: { loadPolicySync: typeof opaWasm.loadPolicySync } }
).default;

// Node 20's @types/node do not declare the WebAssembly global and the tsconfig has no DOM lib, so we
// type the two members we use ourselves.
type WasmModule = object & { readonly __wasmModule?: never };
const WebAssembly = (
  globalThis as unknown as { WebAssembly: { compile(b: Uint8Array): Promise<WasmModule> } }
).WebAssembly;

export interface PolicyEngine {
  /** The bundle's .manifest revision ('' when it has none). */
  readonly revision: string;
  readonly entrypoints: readonly string[];
  /** The input fields the bundle's policy reads (data.acgs.input.fields); build only these. */
  readonly projection: InputProjection;
  /** The data-plane decision. Throws PolicyEvaluationError; callers fail closed. */
  evaluate(input: ProjectedInput): PolicyDecision;
  /** The same, on the input already serialised (input-text.ts): what the hot path calls. */
  evaluateText(text: string): PolicyDecision;
  /** The admin-plane decision (entrypoint acgs/gateway/admin_decision). Throws PolicyEvaluationError. */
  evaluateAdmin(input: AdminPolicyInput): PolicyDecision;
}

export class PolicyEvaluationError extends Error {
  override name = 'PolicyEvaluationError';
}

/** A module that cannot be used at all (not wasm, missing entrypoint or builtin). */
export class PolicyModuleError extends Error {
  override name = 'PolicyModuleError';
}

export interface WasmEngineOptions {
  readonly revision: string;
  /** The bundle's data document (data.json); {} when it has none. */
  readonly data: unknown;
  /** An instance whose memory grew past this many 64 KiB pages is replaced by a fresh one. */
  readonly maxMemoryPages: number;
  readonly requiredEntrypoints?: readonly string[];
  readonly builtins?: Readonly<Record<string, HostBuiltin>>;
  /**
   * Decisions remembered per input text (decision-cache.ts); 0 turns the cache off. Ignored (no cache)
   * when the module imports a builtin that is not a pure function of its arguments.
   */
  readonly decisionCacheEntries?: number;
}

export class WasmPolicyEngine implements PolicyEngine {
  readonly revision: string;
  readonly entrypoints: readonly string[];
  /** How many times an instance was replaced (memory past the limit, or a trap). */
  replacements = 0;
  readonly #module: WasmModule;
  readonly #data: ArrayBuffer;
  readonly #maxBytes: number;
  readonly #builtins: Readonly<Record<string, HostBuiltin>>;
  #policy: LoadedPolicy;
  #evaluation: TextEvaluation;
  readonly #decisionId: number;
  readonly #adminId: number | undefined;
  readonly projection: InputProjection;
  /** null when off or unsound for this module (see WasmEngineOptions.decisionCacheEntries). */
  readonly decisionCache: DecisionCache | null;

  constructor(
    module: WasmModule,
    policy: LoadedPolicy,
    data: ArrayBuffer,
    opts: WasmEngineOptions & { projection: InputProjection; deterministic: boolean },
  ) {
    this.#module = module;
    this.#policy = policy;
    this.#evaluation = new TextEvaluation(policy);
    this.#data = data;
    this.#maxBytes = opts.maxMemoryPages * WASM_PAGE;
    this.#builtins = opts.builtins ?? HOST_BUILTINS;
    this.revision = opts.revision;
    const ids = policy.entrypoints as Record<string, number>;
    this.entrypoints = Object.freeze(Object.keys(ids).sort());
    this.#decisionId = ids[DECISION_ENTRYPOINT] as number;
    this.#adminId = ids[ADMIN_ENTRYPOINT];
    this.projection = opts.projection;
    const entries = opts.decisionCacheEntries ?? 0;
    this.decisionCache = entries > 0 && opts.deterministic ? new DecisionCache(Math.ceil(entries / 2)) : null;
  }

  evaluate(input: ProjectedInput): PolicyDecision {
    return this.evaluateText(JSON.stringify(input));
  }

  evaluateText(text: string): PolicyDecision {
    // The text is both the cache key and exactly what the module reads.
    const cache = this.decisionCache;
    if (cache !== null) {
      const hit = cache.get(text);
      if (hit !== undefined) return hit;
    }
    const decision = this.#run(text, this.#decisionId);
    cache?.set(text, decision);
    return decision;
  }

  evaluateAdmin(input: AdminPolicyInput): PolicyDecision {
    if (this.#adminId === undefined)
      throw new PolicyEvaluationError(`bundle has no ${ADMIN_ENTRYPOINT} entrypoint`);
    return this.#run(JSON.stringify(input), this.#adminId);
  }

  /** Current linear memory of the live instance, in bytes (for tests and diagnostics). */
  get memoryBytes(): number {
    return this.#policy.mem.buffer.byteLength;
  }

  #run(text: string, entrypoint: number): PolicyDecision {
    let result: unknown;
    try {
      result = this.#evaluation.evaluate(text, entrypoint);
    } catch (err) {
      // A trap may leave the instance's heap inconsistent: never reuse it.
      this.#replace();
      throw new PolicyEvaluationError(`policy evaluation failed: ${errorMessage(err)}`);
    }
    if (this.#policy.mem.buffer.byteLength > this.#maxBytes) this.#replace();
    const set = result as Array<{ result?: unknown }> | undefined;
    if (!Array.isArray(set) || set.length === 0)
      throw new PolicyEvaluationError('policy decision is undefined');
    const checked = checkDecision(set[0]?.result);
    if (typeof checked === 'string')
      throw new PolicyEvaluationError(`policy decision is ill-shaped: ${checked}`);
    // A cached decision is shared by every request that hits it: nobody may change it.
    if (checked.headers !== undefined) Object.freeze(checked.headers);
    return Object.freeze(checked);
  }

  // Memory can only grow; a fresh instance of the already compiled module is the way back down.
  #replace(): void {
    this.#policy = instantiate(this.#module, this.#data, this.#builtins);
    this.#evaluation = new TextEvaluation(this.#policy);
    this.replacements++;
  }
}

/** Compiles and checks a policy.wasm; throws PolicyModuleError when it cannot serve our entrypoints. */
export async function createWasmEngine(wasm: Uint8Array, opts: WasmEngineOptions): Promise<WasmPolicyEngine> {
  let module: WasmModule;
  try {
    module = await WebAssembly.compile(wasm);
  } catch (err) {
    throw new PolicyModuleError(`policy.wasm is not a valid WebAssembly module: ${errorMessage(err)}`);
  }
  const builtins = opts.builtins ?? HOST_BUILTINS;
  const data = new TextEncoder().encode(JSON.stringify(opts.data ?? {})).buffer as ArrayBuffer;
  let policy: LoadedPolicy;
  try {
    policy = await loadPolicy(module, { initial: initialPages(opts.maxMemoryPages) }, builtins);
    policy.setData(data);
  } catch (err) {
    throw new PolicyModuleError(`policy.wasm cannot be instantiated: ${errorMessage(err)}`);
  }
  const entrypoints = Object.keys(policy.entrypoints as Record<string, number>);
  for (const required of opts.requiredEntrypoints ?? [DECISION_ENTRYPOINT]) {
    if (!entrypoints.includes(required)) {
      throw new PolicyModuleError(
        `policy.wasm lacks entrypoint ${required} (has: ${entrypoints.join(', ') || 'none'})`,
      );
    }
  }
  const required = requiredBuiltins(policy);
  const missing = missingBuiltins(required, builtins);
  if (missing.length > 0)
    throw new PolicyModuleError(`policy.wasm needs builtins the host lacks: ${missing.join(', ')}`);
  const projection = readProjection(opts.data ?? {});
  if (typeof projection === 'string') throw new BundleError('invalid_file', projection);
  return new WasmPolicyEngine(module, policy, data, {
    ...opts,
    projection,
    deterministic: required.every(isDeterministic),
  });
}

function instantiate(
  module: WasmModule,
  data: ArrayBuffer,
  builtins: Readonly<Record<string, HostBuiltin>>,
): LoadedPolicy {
  const policy = loadPolicySync(module, { initial: 5 }, builtins);
  policy.setData(data);
  return policy;
}

function initialPages(maxPages: number): number {
  return Math.max(2, Math.min(5, maxPages));
}

/** Names of the builtins the module imports from its host (the ABI's `builtins` export). */
function requiredBuiltins(policy: LoadedPolicy): string[] {
  const exports = (policy.wasmInstance as { exports: unknown }).exports as Record<string, CallableFunction>;
  const addr = exports.opa_json_dump!(exports.builtins!()) as number;
  return Object.keys(readJsonAt(new Uint8Array(policy.mem.buffer), addr) as Record<string, number>);
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'string') return err;
  if (err && typeof err === 'object' && 'message' in err)
    return String((err as { message: unknown }).message);
  return String(err);
}
