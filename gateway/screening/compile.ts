// Our ruleset → libddwaf's (ruleset schema 2.2). Each rule becomes one condition whose inputs are every
// (target, normalisation) pair, so it matches when any normalisation of any target matches; transformers
// are libddwaf's own, per input.
//
// Two handles are built from one ruleset. The *detail* handle has one libddwaf rule per rule: it gives
// exact diagnostics and says which rules matched a value. The *fast* handle, the one every request runs,
// merges match_regex rules that share targets and normalisations into one alternation:
// libddwaf applies a rule's transformer chain once per rule and value, so twenty rules with the same
// chain cost twenty decodings, while their merged rule costs one. When a merged rule matches (an attack,
// so rarely), the matched value alone is run through the detail handle to name the rules.
import type { Ruleset, ScreeningRule, Target } from './rules-format.js';

/** libddwaf address of each target. */
export const ADDRESS: Readonly<Record<Target, string>> = {
  path: 'acgs.request.path',
  query: 'acgs.request.query',
  query_names: 'acgs.request.query_names',
  headers: 'acgs.request.headers',
  cookies: 'acgs.request.cookies',
  body: 'acgs.request.body',
  body_keys: 'acgs.request.body_keys',
};

export const TARGET_OF: ReadonlyMap<string, Target> = new Map(
  Object.entries(ADDRESS).map(([target, address]) => [address, target as Target]),
);

/** The prefix of a merged rule's id (never a valid id of ours: ours cannot contain ':'). */
export const MERGED_PREFIX = 'merged:';

/**
 * A rule that never matches (its address is never sent). libddwaf refuses to build a handle with no valid
 * rule at all, and then gives no per-rule diagnostics; with this one present it always builds, and says
 * which of our rules failed and why.
 */
const SENTINEL = {
  id: 'acgs-sentinel',
  name: 'keeps libddwaf diagnostics available',
  tags: { type: 'acgs-sentinel', category: 'none' },
  conditions: [
    { operator: 'match_regex', parameters: { inputs: [{ address: 'acgs.sentinel' }], regex: '^$' } },
  ],
};

export interface CompiledRuleset {
  readonly libddwaf: object;
  /** Merged rule id → the ids of the rules it stands for (fast handle only). */
  readonly members: ReadonlyMap<string, readonly string[]>;
}

/** One libddwaf rule per rule. */
export function compileDetail(ruleset: Ruleset): CompiledRuleset {
  return { libddwaf: wrap(ruleset, ruleset.rules.map(toLibddwaf)), members: new Map() };
}

/** match_regex rules with the same targets and normalisations merged into one. */
export function compileFast(ruleset: Ruleset): CompiledRuleset {
  const groups = new Map<string, ScreeningRule[]>();
  const out: object[] = [];
  for (const rule of ruleset.rules) {
    if (rule.operator !== 'match_regex') {
      out.push(toLibddwaf(rule));
      continue;
    }
    // Categories may mix: the detail handle names each matching rule, and with it its category.
    const key = JSON.stringify([rule.targets, rule.transformers, rule.caseSensitive, rule.minLength]);
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [rule]);
    else group.push(rule);
  }
  const members = new Map<string, string[]>();
  for (const group of groups.values()) {
    if (group.length === 1) {
      out.push(toLibddwaf(group[0]!));
      continue;
    }
    const first = group[0]!;
    const id = `${MERGED_PREFIX}${group.map((r) => r.id).join('+')}`;
    members.set(
      id,
      group.map((r) => r.id),
    );
    out.push(
      toLibddwaf({
        ...first,
        id,
        description: `merged: ${group.map((r) => r.id).join(', ')}`,
        pattern: group.map((r) => `(?:${r.pattern})`).join('|'),
      }),
    );
  }
  return { libddwaf: wrap(ruleset, out), members };
}

function wrap(ruleset: Ruleset, rules: object[]): object {
  return { version: '2.2', metadata: { rules_version: ruleset.version }, rules: [SENTINEL, ...rules] };
}

function toLibddwaf(rule: ScreeningRule): object {
  const inputs = rule.targets.flatMap((target) =>
    rule.transformers.map((transformers) => ({ address: ADDRESS[target], transformers })),
  );
  const parameters: Record<string, unknown> = { inputs };
  if (rule.pattern !== undefined) {
    parameters.regex = rule.pattern;
    parameters.options = { case_sensitive: rule.caseSensitive, min_length: rule.minLength };
  }
  if (rule.phrases !== undefined) parameters.list = rule.phrases;
  return {
    id: rule.id,
    name: rule.description,
    // libddwaf reports one event per rule type and context, so each rule is its own type (a second
    // rule of a category must still be seen); the category is ours (LoadedRuleset.categoryOf).
    tags: { type: rule.id, category: 'attack_attempt' },
    conditions: [{ operator: rule.operator, parameters }],
  };
}
