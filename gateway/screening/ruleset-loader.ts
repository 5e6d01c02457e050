// Loads a ruleset document (JSON or YAML text), validates it (ours first, then libddwaf's own
// diagnostics), and builds the WAF handle. Every failure comes back as diagnostics; nothing half-built
// escapes: a handle whose ruleset had any failed rule is disposed before the error is returned.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { parse as parseYaml } from 'yaml';
import { compileDetail, compileFast } from './compile.js';
import { type RuleDiagnostic, type Ruleset, validateRuleset } from './rules-format.js';

const require = createRequire(import.meta.url);

/** The part of @datadog/native-appsec's typings the gateway relies on. */
export interface WafContext {
  run(
    payload: { ephemeral?: object },
    timeoutUs: number,
  ): {
    timeout: boolean;
    duration?: number;
    events?: WafEvent[];
  };
  dispose(): void;
}
export interface WafEvent {
  rule: { id: string; tags: { type: string } };
  rule_matches: Array<{
    parameters: Array<{
      address: string;
      key_path: Array<string | number>;
      value?: string;
      highlight?: string[];
    }>;
  }>;
}
export interface Waf {
  readonly diagnostics: { rules?: WafDiagnostics | { error: string } };
  createContext(): WafContext;
  dispose(): void;
}
interface WafDiagnostics {
  failed: string[];
  errors: Record<string, string[]>;
  warnings?: Record<string, string[]>;
}
type WafConstructor = new (rules: object, path: string) => Waf;

let DDWAF: WafConstructor | null = null;
function wafClass(): WafConstructor {
  DDWAF ??= (require('@datadog/native-appsec') as { DDWAF: WafConstructor }).DDWAF;
  return DDWAF;
}

/** A validated ruleset with its built WAF handle. */
export interface LoadedRuleset {
  readonly ruleset: Ruleset;
  /** The handle every request runs (regex rules merged, see compile.ts). */
  readonly waf: Waf;
  /** One libddwaf rule per rule: asked which rules a value matched when a merged rule fired. */
  readonly detail: Waf;
  /** Merged rule id → our rule ids. */
  readonly members: ReadonlyMap<string, readonly string[]>;
  /** The ruleset's version and a digest of its content: two different files never share a revision. */
  readonly revision: string;
  readonly categoryOf: ReadonlyMap<string, string>;
  readonly categories: readonly string[];
  /** Per rule: libinjection fingerprints whose matches are dropped. */
  readonly ignored: ReadonlyMap<string, ReadonlySet<string>>;
}

export class RulesetError extends Error {
  readonly diagnostics: readonly RuleDiagnostic[];
  constructor(message: string, diagnostics: readonly RuleDiagnostic[]) {
    super(`${message}: ${diagnostics.map(describe).join('; ')}`);
    this.name = 'RulesetError';
    this.diagnostics = diagnostics;
  }
}

export function describe(d: RuleDiagnostic): string {
  return `${d.rule === null ? '' : `rule ${d.rule}: `}${d.field}: ${d.message}`;
}

export async function loadRulesetFile(file: string): Promise<LoadedRuleset> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new RulesetError('cannot read the ruleset', [
      { rule: null, field: '(file)', message: `${file}: ${(err as Error).message}` },
    ]);
  }
  return buildRuleset(text, /\.ya?ml$/i.test(file) ? 'yaml' : 'json');
}

/** Parses, validates and builds. Throws RulesetError with every diagnostic. */
export function buildRuleset(text: string | Buffer, format: 'json' | 'yaml' = 'json'): LoadedRuleset {
  const source = typeof text === 'string' ? text : text.toString('utf8');
  let doc: unknown;
  try {
    doc = format === 'yaml' ? parseYaml(source) : JSON.parse(source);
  } catch (err) {
    throw new RulesetError('the ruleset is not valid ' + format.toUpperCase(), [
      { rule: null, field: '(document)', message: (err as Error).message.split('\n')[0]! },
    ]);
  }
  const validated = validateRuleset(doc);
  if ('diagnostics' in validated) throw new RulesetError('the ruleset is invalid', validated.diagnostics);
  const { ruleset } = validated;

  // The detail handle first: its diagnostics name our rules one by one.
  const detail = buildWaf(compileDetail(ruleset).libddwaf);
  const problems = wafDiagnostics(detail.diagnostics.rules);
  if (problems.length > 0) {
    detail.dispose();
    throw new RulesetError('libddwaf refused rules', problems);
  }
  const fast = compileFast(ruleset);
  let waf: Waf;
  try {
    waf = buildWaf(fast.libddwaf);
    const merged = wafDiagnostics(waf.diagnostics.rules);
    if (merged.length > 0) {
      waf.dispose();
      throw new RulesetError('libddwaf refused merged rules', merged);
    }
  } catch (err) {
    detail.dispose();
    throw err;
  }
  const categoryOf = new Map(ruleset.rules.map((r) => [r.id, r.category]));
  const digest = createHash('sha256').update(source).digest('hex').slice(0, 12);
  for (const [id, ids] of fast.members) categoryOf.set(id, categoryOf.get(ids[0]!)!);
  return {
    ruleset,
    waf,
    detail,
    members: fast.members,
    revision: `${ruleset.version}+${digest}`,
    categoryOf,
    categories: [...new Set(ruleset.rules.map((r) => r.category))].sort(),
    ignored: new Map(
      ruleset.rules.filter((r) => r.ignoreFingerprints).map((r) => [r.id, new Set(r.ignoreFingerprints)]),
    ),
  };
}

function buildWaf(rules: object): Waf {
  try {
    return new (wafClass())(rules, 'acgs/screening');
  } catch (err) {
    throw new RulesetError('libddwaf refused the ruleset', [
      { rule: null, field: '(ruleset)', message: (err as Error).message },
    ]);
  }
}

/** libddwaf's per-rule errors and warnings (an invalid regex, an unknown operator) as diagnostics. */
function wafDiagnostics(rules: WafDiagnostics | { error: string } | undefined): RuleDiagnostic[] {
  if (rules === undefined) return [{ rule: null, field: '(ruleset)', message: 'libddwaf loaded no rules' }];
  if ('error' in rules) return [{ rule: null, field: '(ruleset)', message: rules.error }];
  const out: RuleDiagnostic[] = [];
  for (const group of [rules.errors, rules.warnings ?? {}]) {
    for (const [message, ids] of Object.entries(group)) {
      for (const id of ids) out.push({ rule: id, field: 'libddwaf', message });
    }
  }
  for (const id of rules.failed) {
    if (!out.some((d) => d.rule === id))
      out.push({ rule: id, field: 'libddwaf', message: 'rule not loaded' });
  }
  return out;
}
