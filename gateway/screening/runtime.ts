// The screening runtime: the engine plus what operators see (revision, rule count, categories, last
// error). Reloads go through here so the state, the metrics and the log always agree.
import type { ScreeningEngine } from './engine.js';
import type { ScreeningMetrics } from './metrics.js';
import type { RuleDiagnostic } from './rules-format.js';
import { buildRuleset, type LoadedRuleset, RulesetError } from './ruleset-loader.js';

export interface ScreeningState {
  readonly revision: string;
  readonly version: string;
  readonly rules: number;
  readonly categories: readonly string[];
  readonly loadedAt: string;
  readonly source: string;
  readonly lastError: {
    readonly at: string;
    readonly message: string;
    readonly diagnostics: readonly RuleDiagnostic[];
  } | null;
}

export type ReloadOutcome =
  | { readonly ok: true; readonly revision: string }
  | { readonly ok: false; readonly message: string; readonly diagnostics: readonly RuleDiagnostic[] };

interface MinimalLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export class ScreeningRuntime {
  readonly engine: ScreeningEngine;
  readonly #metrics: ScreeningMetrics;
  readonly #logger: MinimalLogger;
  #loadedAt = new Date();
  #source: string;
  #lastError: ScreeningState['lastError'] = null;

  constructor(engine: ScreeningEngine, metrics: ScreeningMetrics, logger: MinimalLogger, source: string) {
    this.engine = engine;
    this.#metrics = metrics;
    this.#logger = logger;
    this.#source = source;
    metrics.rulesetInfo.labels({ revision: engine.active.revision }).set(1);
  }

  state(): ScreeningState {
    const active: LoadedRuleset = this.engine.active;
    return {
      revision: active.revision,
      version: active.ruleset.version,
      rules: active.ruleset.rules.length,
      categories: active.categories,
      loadedAt: this.#loadedAt.toISOString(),
      source: this.#source,
      lastError: this.#lastError,
    };
  }

  /** Validates and swaps in a new ruleset; on any problem the active one stays and nothing changes. */
  reload(text: string, format: 'json' | 'yaml', source: string): ReloadOutcome {
    let next: LoadedRuleset;
    try {
      next = buildRuleset(text, format);
    } catch (err) {
      const diagnostics = err instanceof RulesetError ? err.diagnostics : [];
      const message = err instanceof RulesetError ? 'the ruleset was refused' : (err as Error).message;
      this.#lastError = { at: new Date().toISOString(), message, diagnostics };
      this.#metrics.reloads.labels({ result: 'refused' }).inc();
      this.#logger.warn({ source, diagnostics }, 'screening ruleset refused; the active one stays');
      return { ok: false, message, diagnostics };
    }
    const previous = this.engine.active.revision;
    this.engine.swap(next);
    this.#loadedAt = new Date();
    this.#source = source;
    this.#lastError = null;
    this.#metrics.rulesetInfo.reset();
    this.#metrics.rulesetInfo.labels({ revision: next.revision }).set(1);
    this.#metrics.reloads.labels({ result: 'ok' }).inc();
    this.#logger.info({ source, previous, revision: next.revision }, 'screening ruleset swapped');
    return { ok: true, revision: next.revision };
  }
}
