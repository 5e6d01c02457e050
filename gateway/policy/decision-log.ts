// Decision logs in the shape of OPA's (https://www.openpolicyagent.org/docs/management-decision-logs),
// so tooling that reads OPA's can read ours: one JSON line per logged decision. Switchable and sampled;
// secrets in the input are masked and the masked paths listed in `masked`, as OPA does.
import { randomUUID } from 'node:crypto';
import type { ScreeningFindings, ScreeningMatch } from '../../core/types.js';
import type { PolicyDecision } from './decision.js';
import type { ProjectedInput } from './input.js';

export const MASK = '**REDACTED**';
// Headers and query parameters that carry credentials. authorization and cookie never reach the input.
const DEFAULT_SECRET_HEADERS = ['x-api-key', 'x-auth-token', 'x-csrf-token', 'x-amz-security-token'];
const DEFAULT_SECRET_QUERY = [
  'access_token',
  'id_token',
  'refresh_token',
  'token',
  'api_key',
  'apikey',
  'password',
  'secret',
];

/** Where lines go: anything with write(line) (a pino destination, a stream), or a pino-like logger. */
export type DecisionLogSink = { write(line: string): unknown } | { info(obj: object): unknown };

export interface DecisionLogOptions {
  readonly enabled: boolean;
  /** 0..1: the share of decisions logged. */
  readonly sampleRate: number;
  readonly sink: DecisionLogSink;
  /** Static labels (OPA: id, version, ...). */
  readonly labels?: Readonly<Record<string, string>>;
  readonly secretHeaders?: readonly string[];
  readonly secretQuery?: readonly string[];
  readonly random?: () => number;
  readonly now?: () => Date;
}

export interface DecisionLogEntry {
  readonly requestId: string;
  readonly path: string;
  /** The input as the engine evaluated it (only the fields the bundle's projection declares). */
  readonly input: ProjectedInput;
  /** The client address (OPA's requested_by), whether or not the input carries it. */
  readonly clientIp: string;
  readonly result: PolicyDecision;
  readonly revision: string;
  readonly evalNs: number;
  /** The screening stage's findings: logged with a masked excerpt of each matched value, never the value. */
  readonly screening?: ScreeningFindings | null;
}

export interface DecisionLogger {
  /** Cheap check before building an entry: false when off or this decision is not sampled. */
  sampled(): boolean;
  log(entry: DecisionLogEntry): void;
}

export function createDecisionLogger(opts: DecisionLogOptions): DecisionLogger {
  const random = opts.random ?? Math.random;
  const now = opts.now ?? (() => new Date());
  const labels = { app: 'acgs-gateway', ...opts.labels };
  const secretHeaders = new Set(opts.secretHeaders ?? DEFAULT_SECRET_HEADERS);
  const secretQuery = new Set(opts.secretQuery ?? DEFAULT_SECRET_QUERY);
  const write =
    'write' in opts.sink
      ? (obj: object) => (opts.sink as { write(l: string): unknown }).write(`${JSON.stringify(obj)}\n`)
      : (obj: object) => (opts.sink as { info(o: object): unknown }).info(obj);
  return {
    sampled: () =>
      opts.enabled && opts.sampleRate > 0 && (opts.sampleRate >= 1 || random() < opts.sampleRate),
    log(entry) {
      const { input, masked } = maskInput(
        entry.input,
        secretHeaders,
        secretQuery,
        entry.screening?.matches ?? NO_MATCHES,
      );
      const line: Record<string, unknown> = {
        labels,
        decision_id: randomUUID(),
        bundles: { acgs: { revision: entry.revision } },
        path: entry.path,
        input,
        result: entry.result,
        requested_by: entry.clientIp,
        timestamp: now().toISOString(),
        metrics: { timer_rego_query_eval_ns: entry.evalNs },
        request_id: entry.requestId,
      };
      if (masked.length > 0) line.masked = masked;
      const findings = entry.screening;
      if (findings && findings.matches.length > 0) {
        line.screening = findings.matches.map((m) => ({
          rule: m.rule,
          category: m.category,
          where: m.placement,
          key: m.key,
          excerpt: m.excerpt ?? '',
        }));
      }
      write(line);
    },
  };
}

const NO_MATCHES: readonly ScreeningMatch[] = [];

/**
 * A copy of `input` with secrets replaced, and the query values and headers a screening rule matched
 * (an attacker's payload is not worth a log line: the screening section has its masked excerpt).
 * Copies only the parts that change.
 */
export function maskInput<T extends ProjectedInput>(
  input: T,
  secretHeaders: ReadonlySet<string>,
  secretQuery: ReadonlySet<string>,
  matches: readonly ScreeningMatch[] = NO_MATCHES,
): { input: T; masked: string[] } {
  const masked: string[] = [];
  const matchedHeaders = new Set<string>();
  const matchedQuery = new Set<string>();
  for (const m of matches) {
    if (m.placement === 'header') matchedHeaders.add(m.key);
    else if (m.placement === 'query') matchedQuery.add(m.key);
  }
  // A projection may leave headers or query out of the input: then there is nothing of theirs to mask.
  let headers = input.headers;
  for (const name of Object.keys(input.headers ?? {})) {
    if (!secretHeaders.has(name) && !matchedHeaders.has(name)) continue;
    if (headers === input.headers) headers = { ...input.headers };
    (headers as Record<string, unknown>)[name] = MASK;
    masked.push(`/input/headers/${name}`);
  }
  let query = input.query;
  for (const name of Object.keys(input.query ?? {})) {
    if (!secretQuery.has(name.toLowerCase()) && !matchedQuery.has(name)) continue;
    if (query === input.query) query = { ...input.query };
    (query as Record<string, unknown>)[name] = [MASK];
    masked.push(`/input/query/${name}`);
  }
  if (masked.length === 0) return { input, masked };
  return { input: { ...input, headers, query }, masked };
}
