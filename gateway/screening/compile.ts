// Our ruleset → libddwaf's (ruleset schema 2.2): one libddwaf rule per rule, one condition whose
// inputs are every (target, normalisation) pair, so a rule matches when any normalisation of any
// target matches. Transformers are libddwaf's own, per input.
import type { Ruleset, Target } from './rules-format.js';

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

export function compileRuleset(ruleset: Ruleset): object {
  return {
    version: '2.2',
    metadata: { rules_version: ruleset.version },
    rules: [
      SENTINEL,
      ...ruleset.rules.map((rule) => {
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
      }),
    ],
  };
}
