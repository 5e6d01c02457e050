// Holds the active engine. A bundle is parsed, verified and compiled completely before the swap, which
// is one reference assignment: evaluation is synchronous, so a request already evaluating finishes on
// the engine it started with and the next one sees the new engine. Any failure keeps the old one.
import type { Registry } from 'prom-client';
import { BundleError, parseBundle } from './bundle.js';
import type { BundleFailureKind } from './bundle-error.js';
import { failedDecision, type PolicyDecision } from './decision.js';
import {
  createWasmEngine,
  DECISION_ENTRYPOINT,
  errorMessage,
  type PolicyEngine,
  PolicyModuleError,
} from './engine.js';
import type { AdminPolicyInput, ProjectedInput } from './input.js';
import type { MinimalLogger } from './log-once.js';
import { type PolicyMetrics, policyMetrics } from './metrics.js';
import type { VerificationKey } from './signature.js';

export const DEFAULT_MAX_MEMORY_PAGES = 1024; // 64 MiB

export interface PolicyManagerOptions {
  /** Bundles must be signed by this key when set. */
  readonly verificationKey?: VerificationKey | undefined;
  readonly maxMemoryPages?: number;
  /** Decisions remembered per engine (decision-cache.ts); 0 or unset: none. */
  readonly decisionCacheEntries?: number;
  readonly requiredEntrypoints?: readonly string[];
  readonly registry?: Registry;
  readonly logger?: MinimalLogger;
  readonly now?: () => Date;
}

export interface PolicyLoadResult {
  readonly revision: string;
  readonly loadedAt: string;
}

/** What GET /admin/policy shows. */
export interface PolicyState {
  readonly ready: boolean;
  readonly revision: string | null;
  readonly loadedAt: string | null;
  readonly entrypoints: readonly string[];
  readonly source: string | null;
  readonly signed: boolean;
  readonly lastError: {
    readonly message: string;
    readonly reason: BundleFailureKind;
    readonly source: string;
    readonly at: string;
  } | null;
}

export type SwapListener = (engine: PolicyEngine, previous: PolicyEngine | null) => void;

const NO_POLICY = 'no policy bundle is loaded';

export class PolicyManager {
  #engine: PolicyEngine | null = null;
  #active: { loadedAt: string; source: string; signed: boolean } | null = null;
  #lastError: PolicyState['lastError'] = null;
  #queue: Promise<unknown> = Promise.resolve();
  readonly #listeners: SwapListener[] = [];
  readonly #opts: PolicyManagerOptions;
  readonly #metrics: PolicyMetrics | null;
  readonly #now: () => Date;

  constructor(opts: PolicyManagerOptions = {}) {
    this.#opts = opts;
    this.#metrics = opts.registry ? policyMetrics(opts.registry) : null;
    this.#now = opts.now ?? (() => new Date());
  }

  get engine(): PolicyEngine | null {
    return this.#engine;
  }

  isReady(): boolean {
    return this.#engine !== null;
  }

  /**
   * The data-plane decision; never throws (fails closed with `error` set). Build `input` with the
   * projection of `engine` read just before: both happen in one synchronous run, so no swap comes between.
   */
  decide(input: ProjectedInput): PolicyDecision {
    const engine = this.#engine;
    if (engine === null) return failedDecision(NO_POLICY);
    try {
      return engine.evaluate(input);
    } catch (err) {
      return failedDecision(errorMessage(err));
    }
  }

  /** decide() on the serialised input (input-text.ts, with the projection of `engine`). */
  decideText(text: string): PolicyDecision {
    const engine = this.#engine;
    if (engine === null) return failedDecision(NO_POLICY);
    try {
      return engine.evaluateText(text);
    } catch (err) {
      return failedDecision(errorMessage(err));
    }
  }

  /** The admin-plane decision; never throws (fails closed with `error` set). */
  decideAdmin(input: AdminPolicyInput): PolicyDecision {
    const engine = this.#engine;
    if (engine === null) return failedDecision(NO_POLICY);
    try {
      return engine.evaluateAdmin(input);
    } catch (err) {
      return failedDecision(errorMessage(err));
    }
  }

  /**
   * Verifies `buffer` completely, then swaps it in. Loads run one at a time in call order, so the last
   * one called wins. Throws BundleError (status 400/422) and keeps the active engine on any failure.
   */
  load(buffer: Buffer, source: string): Promise<PolicyLoadResult> {
    const run = this.#queue.then(() => this.#load(buffer, source));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** Activates an engine built elsewhere (tests, the static engine). */
  use(engine: PolicyEngine, source: string): PolicyLoadResult {
    return this.#swap(engine, source, false);
  }

  /** Records a failure that happened before load() (a bundle that could not be fetched). */
  recordFailure(source: string, err: BundleError): void {
    this.#lastError = { message: err.message, reason: err.kind, source, at: this.#now().toISOString() };
    this.#metrics?.loadFailures.inc({ reason: err.kind });
    this.#opts.logger?.warn({ source, reason: err.kind, err: err.message }, 'policy bundle refused');
  }

  onSwap(listener: SwapListener): void {
    this.#listeners.push(listener);
  }

  state(): PolicyState {
    const engine = this.#engine;
    return {
      ready: engine !== null,
      revision: engine?.revision ?? null,
      loadedAt: this.#active?.loadedAt ?? null,
      entrypoints: engine?.entrypoints ?? [],
      source: this.#active?.source ?? null,
      signed: this.#active?.signed ?? false,
      lastError: this.#lastError,
    };
  }

  async #load(buffer: Buffer, source: string): Promise<PolicyLoadResult> {
    const required = this.#opts.requiredEntrypoints ?? [DECISION_ENTRYPOINT];
    try {
      const bundle = await parseBundle(buffer, {
        verificationKey: this.#opts.verificationKey,
        requiredEntrypoints: required,
      });
      const engine = await createWasmEngine(bundle.wasm, {
        revision: bundle.revision,
        data: bundle.data,
        maxMemoryPages: this.#opts.maxMemoryPages ?? DEFAULT_MAX_MEMORY_PAGES,
        decisionCacheEntries: this.#opts.decisionCacheEntries ?? 0,
        requiredEntrypoints: required,
      });
      return this.#swap(engine, source, bundle.signed);
    } catch (err) {
      const bundleErr =
        err instanceof BundleError
          ? err
          : new BundleError(err instanceof PolicyModuleError ? 'wasm' : 'invalid_file', errorMessage(err));
      this.recordFailure(source, bundleErr);
      throw bundleErr;
    }
  }

  #swap(engine: PolicyEngine, source: string, signed: boolean): PolicyLoadResult {
    const previous = this.#engine;
    const loadedAt = this.#now().toISOString();
    this.#engine = engine;
    this.#active = { loadedAt, source, signed };
    if (this.#metrics) {
      this.#metrics.bundleInfo.reset();
      this.#metrics.bundleInfo.set({ revision: engine.revision }, 1);
    }
    this.#opts.logger?.info({ source, revision: engine.revision, signed }, 'policy bundle activated');
    for (const l of this.#listeners) l(engine, previous);
    return { revision: engine.revision, loadedAt };
  }
}
