// One libddwaf handle at a time, swapped atomically on reload. A request takes a reference for the
// length of its (synchronous) run; a retired handle is disposed once no run holds it, so a swap in the
// middle of traffic can neither free a handle under a run nor leak the old one.
import type { ScreeningMatch } from '../../core/types.js';
import { CleanValues } from './clean-values.js';
import { ADDRESS, TARGET_OF } from './compile.js';
import { maskExcerpt } from './excerpt.js';
import { CHUNK } from './leaves.js';
import { TARGETS, type Target } from './rules-format.js';
import type { LoadedRuleset, Waf, WafEvent } from './ruleset-loader.js';
import type { RequestLeaves } from './targets.js';

/** Placement reported to the policy for each target. */
const PLACEMENT: Readonly<Record<Target, string>> = {
  path: 'path',
  query: 'query',
  query_names: 'query',
  headers: 'header',
  cookies: 'cookie',
  body: 'body',
  body_keys: 'body',
};

/**
 * Extra runs allowed after a match was dropped (an ignored fingerprint). A rule stops at its first match
 * in a run, so a dropped match could hide a real one in a later value: the value is blanked and the
 * request run again. Bounded, so a request full of decoys costs at most this many more runs.
 */
const MAX_RERUNS = 3;

export interface Inspection {
  readonly matches: ScreeningMatch[];
  readonly timedOut: boolean;
  /** A target had more leaves than the engine is given (MAX_LEAVES): its tail was not inspected. */
  readonly truncated: boolean;
}

interface Handle {
  readonly loaded: LoadedRuleset;
  /** Values this ruleset found clean (clean-values.ts): a new ruleset starts with none. */
  readonly clean: CleanValues;
  refs: number;
  retired: boolean;
}

export interface ScreeningEngineOptions {
  /** Clean values remembered per target and generation (clean-values.ts); 0 inspects every value every time. */
  readonly cleanValues?: number;
}

const NO_MATCHES: ScreeningMatch[] = Object.freeze([]) as unknown as ScreeningMatch[];
const CLEAN: Inspection = Object.freeze({ matches: NO_MATCHES, timedOut: false, truncated: false });
const CLEAN_TRUNCATED: Inspection = Object.freeze({ matches: NO_MATCHES, timedOut: false, truncated: true });

export class ScreeningEngine {
  #current: Handle;
  #closed = false;
  readonly #cleanValues: number;

  constructor(initial: LoadedRuleset, opts: ScreeningEngineOptions = {}) {
    this.#cleanValues = opts.cleanValues ?? DEFAULT_CLEAN_VALUES;
    this.#current = this.#handle(initial);
    warm(initial);
  }

  get active(): LoadedRuleset {
    return this.#current.loaded;
  }

  /** The active ruleset's clean-value cache (for metrics and tests). */
  get cleanValues(): CleanValues {
    return this.#current.clean;
  }

  /** Makes `next` the active ruleset; the previous one is disposed when its last run ends. */
  swap(next: LoadedRuleset): void {
    warm(next);
    const old = this.#current;
    this.#current = this.#handle(next);
    this.#retire(old);
  }

  inspect(leaves: RequestLeaves, budgetUs: number): Inspection {
    const handle = this.#current;
    const truncated = anyTruncated(leaves);
    const pending = handle.clean.unknownOf(leaves);
    if (pending === null) return truncated ? CLEAN_TRUNCATED : CLEAN;
    handle.refs++;
    try {
      const run = inspectWith(handle.loaded, pending, budgetUs);
      if (run.matches.length === 0 && !run.timedOut && run.complete) handle.clean.remember(pending);
      return { matches: run.matches, timedOut: run.timedOut, truncated };
    } finally {
      handle.refs--;
      if (handle.retired && handle.refs === 0) dispose(handle.loaded);
    }
  }

  #handle(loaded: LoadedRuleset): Handle {
    return { loaded, clean: new CleanValues(this.#cleanValues), refs: 0, retired: false };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#retire(this.#current);
  }

  #retire(handle: Handle): void {
    handle.retired = true;
    if (handle.refs === 0) dispose(handle.loaded);
  }
}

/**
 * One run over every target before the handle takes traffic: libddwaf builds its per-rule structures on
 * first use, which would otherwise land on (and may overrun the budget of) the first real request.
 */
function warm(loaded: LoadedRuleset): void {
  const payload: Record<string, string[][]> = {};
  for (const address of Object.values(ADDRESS)) payload[address] = [["warm-up value: it's a 'test' <b>/x"]];
  for (const waf of [loaded.waf, loaded.detail]) runOnce(waf, payload, 1_000_000);
}

function dispose(loaded: LoadedRuleset): void {
  for (const waf of [loaded.waf, loaded.detail]) {
    try {
      waf.dispose();
    } catch {
      // already disposed: nothing left to free
    }
  }
}

/** Values per target (and generation) remembered as clean by default: a few MiB at most. */
export const DEFAULT_CLEAN_VALUES = 4096;

function anyTruncated(leaves: RequestLeaves): boolean {
  for (const target of TARGETS) if (leaves[target]?.truncated === true) return true;
  return false;
}

interface Run {
  readonly matches: ScreeningMatch[];
  readonly timedOut: boolean;
  /** Every value was seen by a run that ended normally (not cut short after MAX_RERUNS decoys). */
  readonly complete: boolean;
}

function inspectWith(loaded: LoadedRuleset, leaves: RequestLeaves, budgetUs: number): Run {
  const payload: Record<string, string[][]> = {};
  for (const target of TARGETS) {
    const l = leaves[target];
    if (l === undefined || l.size === 0) continue;
    payload[ADDRESS[target]] = l.chunks();
  }
  const matches: ScreeningMatch[] = [];
  const seen = new Set<string>();
  const started = process.hrtime.bigint();
  let timedOut = false;
  let complete = true;
  for (let runs = 0; ; runs++) {
    const remaining = budgetUs - Number(process.hrtime.bigint() - started) / 1000;
    if (remaining <= 0) {
      timedOut = true;
      break;
    }
    const result = runOnce(loaded.waf, payload, remaining);
    if (result.timeout) timedOut = true;
    let blanked = false;
    for (const event of result.events ?? []) {
      const id = event.rule.id;
      const param = event.rule_matches[0]?.parameters[0];
      const target = param ? TARGET_OF.get(param.address) : undefined;
      const ignore = loaded.ignored.get(id);
      if (ignore !== undefined && param !== undefined && target !== undefined) {
        const fingerprint = param.highlight?.[0];
        if (fingerprint !== undefined && ignore.has(fingerprint)) {
          blanked = blank(payload, ADDRESS[target], param.key_path) || blanked;
          continue;
        }
      }
      const members = loaded.members.get(id);
      if (members !== undefined && target !== undefined && param !== undefined) {
        // A merged rule: which of its rules matched this value (see compile.ts).
        for (const rule of detailMatches(loaded, target, leaves, param.key_path, members)) {
          if (seen.has(rule)) continue;
          seen.add(rule);
          matches.push(toMatch(loaded, rule, target, param, leaves));
        }
        continue;
      }
      if (seen.has(id)) continue;
      seen.add(id);
      matches.push(toMatch(loaded, id, target, param, leaves));
    }
    if (!blanked || timedOut) break;
    if (runs >= MAX_RERUNS) {
      complete = false;
      break;
    }
  }
  return { matches, timedOut, complete };
}

function runOnce(waf: Waf, payload: Record<string, string[][]>, budgetUs: number) {
  const context = waf.createContext();
  try {
    return context.run({ ephemeral: payload }, Math.max(1, Math.floor(budgetUs)));
  } finally {
    context.dispose();
  }
}

/** Empties one leaf in the payload (a copy of its chunk, so the request's leaves stay intact). */
function blank(payload: Record<string, string[][]>, address: string, keyPath: readonly (string | number)[]) {
  const chunks = payload[address];
  const c = Number(keyPath[0]);
  const i = Number(keyPath[1]);
  const chunk = chunks?.[c];
  if (chunk === undefined || !(i >= 0 && i < CHUNK) || chunk[i] === '') return false;
  const copy = chunk.slice();
  copy[i] = '';
  chunks![c] = copy;
  return true;
}

/** The member rules of a merged rule that match one value, asked of the detail handle. */
function detailMatches(
  loaded: LoadedRuleset,
  target: Target,
  leaves: RequestLeaves,
  keyPath: readonly (string | number)[],
  members: readonly string[],
): string[] {
  const value = leaves[target]?.valueAt(keyPath);
  if (value === undefined) return [...members];
  const result = runOnce(loaded.detail, { [ADDRESS[target]]: [[value]] }, DETAIL_BUDGET_US);
  const found = (result.events ?? []).map((e) => e.rule.id).filter((id) => members.includes(id));
  // Out of budget or a disagreement between the handles: the match stands under every rule of the group,
  // so an exemption for one category cannot let another category's attack through on a slow machine.
  return found.length > 0 ? [...found] : [...members];
}

/**
 * Naming the rules of a match is one value through the detail handle: microseconds, bounded anyway,
 * with room for a descheduled process (wall-clock).
 */
const DETAIL_BUDGET_US = 20_000;

function toMatch(
  loaded: LoadedRuleset,
  rule: string,
  target: Target | undefined,
  param: WafEvent['rule_matches'][number]['parameters'][number] | undefined,
  leaves: RequestLeaves,
): ScreeningMatch {
  return {
    rule,
    category: loaded.categoryOf.get(rule) ?? 'unknown',
    placement: target ? PLACEMENT[target] : 'unknown',
    key: target && param ? (leaves[target]?.keyAt(param.key_path) ?? '') : '',
    excerpt: maskExcerpt(param?.value),
  };
}
