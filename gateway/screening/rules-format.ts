// The gateway's ruleset format (policies/screening-rules.json): rules are data, one object per rule,
// checked here with a diagnostic per problem (rule id, field, what is wrong) before libddwaf sees them.
import { z } from 'zod';

/** Where a rule looks. Each is one libddwaf address of flattened string leaves (see targets.ts). */
export const TARGETS = ['path', 'query', 'query_names', 'headers', 'cookies', 'body', 'body_keys'] as const;
export type Target = (typeof TARGETS)[number];

export const OPERATORS = ['is_sqli', 'is_xss', 'match_regex', 'phrase_match'] as const;

/** libddwaf 1.30's transformers (snake_case names); an unknown one is a diagnostic, not a silent no-op. */
export const TRANSFORMERS = [
  'lowercase',
  'url_decode',
  'url_decode_iis',
  'html_entity_decode',
  'js_decode',
  'css_decode',
  'normalize_path',
  'normalize_path_win',
  'remove_nulls',
  'compress_whitespace',
  'remove_comments',
  'shell_unescape',
  'unicode_normalize',
  'base64_decode',
  'url_basename',
  'url_path',
  'url_querystring',
] as const;

const transformerList = z.array(z.enum(TRANSFORMERS));

const ruleSchema = z
  .strictObject({
    id: z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,63}$/, 'must be a lower-case id (a-z 0-9 _ . -)'),
    category: z.string().regex(/^[a-z][a-z0-9_]{0,31}$/, 'must be a lower-case word (a-z 0-9 _)'),
    description: z.string().min(1),
    operator: z.enum(OPERATORS),
    targets: z.array(z.enum(TARGETS)).min(1, 'must name at least one target'),
    /**
     * Normalisations tried, each a list of transformers applied in order; the rule matches when any of
     * them matches. [[]] (the default) inspects the value as it arrived.
     */
    transformers: z.array(transformerList).min(1).default([[]]),
    /** match_regex: an RE2 pattern. */
    pattern: z.string().min(1).optional(),
    caseSensitive: z.boolean().default(false),
    /** match_regex: values shorter than this are not tested. */
    minLength: z.number().int().min(0).default(0),
    /** phrase_match: literal phrases (matched case-sensitively on the transformed value). */
    phrases: z.array(z.string().min(1)).min(1).optional(),
    /**
     * is_sqli: libinjection fingerprints that are ordinary prose ('n;EnE': "done; update status set to
     * shipped"); a match with one of them is dropped and the value is not reported by this rule.
     */
    ignoreFingerprints: z
      .array(z.string().regex(/^[A-Za-z0-9&;,()]{1,8}$/, 'must be a libinjection fingerprint'))
      .optional(),
  })
  .superRefine((rule, ctx) => {
    if (rule.operator === 'match_regex' && rule.pattern === undefined)
      ctx.addIssue({ code: 'custom', path: ['pattern'], message: 'match_regex needs a pattern' });
    if (rule.operator === 'phrase_match' && rule.phrases === undefined)
      ctx.addIssue({ code: 'custom', path: ['phrases'], message: 'phrase_match needs phrases' });
    if (rule.operator !== 'match_regex' && rule.pattern !== undefined)
      ctx.addIssue({ code: 'custom', path: ['pattern'], message: `${rule.operator} takes no pattern` });
    if (rule.operator !== 'is_sqli' && rule.ignoreFingerprints !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['ignoreFingerprints'],
        message: 'only is_sqli reports fingerprints',
      });
    if (rule.operator !== 'phrase_match' && rule.phrases !== undefined)
      ctx.addIssue({ code: 'custom', path: ['phrases'], message: `${rule.operator} takes no phrases` });
  });

export const rulesetSchema = z.strictObject({
  /** The ruleset's own revision, shown by GET /admin/screening and in metrics. */
  version: z.string().min(1).max(64),
  rules: z.array(ruleSchema).min(1, 'must contain at least one rule'),
});

export type ScreeningRule = z.output<typeof ruleSchema>;
export type Ruleset = z.output<typeof rulesetSchema>;

/** One problem with a ruleset: which rule (when known), which field, what is wrong. */
export interface RuleDiagnostic {
  readonly rule: string | null;
  readonly field: string;
  readonly message: string;
}

/** Validates a parsed document; returns the ruleset or every problem found. */
export function validateRuleset(doc: unknown): { ruleset: Ruleset } | { diagnostics: RuleDiagnostic[] } {
  const parsed = rulesetSchema.safeParse(doc);
  if (!parsed.success) {
    const diagnostics = parsed.error.issues.map((issue) => {
      const [head, index, ...rest] = issue.path;
      let rule: string | null = null;
      let field = issue.path.join('.') || '(root)';
      if (head === 'rules' && typeof index === 'number') {
        const raw = (doc as { rules?: Array<{ id?: unknown }> }).rules?.[index];
        rule = typeof raw?.id === 'string' ? raw.id : `#${index}`;
        field = rest.join('.') || '(rule)';
      }
      return { rule, field, message: issue.message };
    });
    return { diagnostics };
  }
  const diagnostics: RuleDiagnostic[] = [];
  const seen = new Set<string>();
  for (const rule of parsed.data.rules) {
    if (seen.has(rule.id)) diagnostics.push({ rule: rule.id, field: 'id', message: 'duplicate rule id' });
    seen.add(rule.id);
  }
  return diagnostics.length > 0 ? { diagnostics } : { ruleset: parsed.data };
}
