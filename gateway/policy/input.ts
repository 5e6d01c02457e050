// The policy input document (policies/README.md). Built once per request from the RequestContext;
// only what the policy reads is copied, and the query string is parsed here exactly once.
import type { Claims, Color, RequestContext, ScreeningFindings } from '../../core/types.js';
import { FULL_PROJECTION, type InputProjection } from './projection.js';

export interface PolicyInput {
  readonly method: string;
  /** Canonical path (decoded once, dot-segments removed). */
  readonly path: string;
  /** The canonical path split on '/', empty segments dropped: '/api/ac/x' → ['api', 'ac', 'x']. */
  readonly segments: readonly string[];
  /** Query parameters, name → every value in order. */
  readonly query: Readonly<Record<string, string[]>>;
  /**
   * Lower-cased request headers as the upstream will receive them (ctx.clientHeaders), without credentials
   * (authorization, cookie); a repeated header's values joined with ', ' so none escapes the policy.
   */
  readonly headers: Readonly<Record<string, string>>;
  readonly client_ip: string;
  readonly claims: Claims | null;
  readonly service: string | null;
  readonly rest: string;
  readonly color_override: Color | null;
  /** What the screening stage found; null when screening is off. */
  readonly screening: PolicyScreening | null;
}

/** The screening stage's findings as the policy sees them: rule ids and where, never the values. */
export interface PolicyScreening {
  readonly matches: readonly {
    readonly rule: string;
    readonly category: string;
    /** 'path', 'query', 'header', 'cookie', 'body'. */
    readonly where: string;
    readonly key: string;
  }[];
  /** The matched categories, sorted, each once. */
  readonly categories: readonly string[];
  readonly body_inspected: boolean;
  /** Why a present body was not inspected: 'too_large', 'content_type', 'encoding', 'unknown_length'. */
  readonly body_skipped: string | null;
  /** The engine ran out of its time budget: the matches may be incomplete. */
  readonly timed_out: boolean;
  /** More values than the engine is given: the rest were not inspected. */
  readonly truncated: boolean;
}

/** Input of the admin_decision entrypoint. */
export interface AdminPolicyInput {
  /** Dotted action name: 'read', 'weights.set', 'rollout.start', 'policy.put', ... */
  readonly action: string;
  readonly principal: { readonly name: string; readonly roles?: readonly string[] };
  readonly service?: string;
}

// Credentials never reach the policy (nor, through it, the decision log).
const STRIPPED_HEADERS = new Set(['authorization', 'proxy-authorization', 'cookie']);
const NO_QUERY: Readonly<Record<string, string[]>> = Object.freeze(Object.create(null));

/** The input as a projection builds it: only the fields the bundle declared (projection.ts). */
export type ProjectedInput = Partial<PolicyInput>;

export function buildPolicyInput(ctx: RequestContext): PolicyInput;
export function buildPolicyInput(ctx: RequestContext, projection: InputProjection): ProjectedInput;
export function buildPolicyInput(ctx: RequestContext, projection?: InputProjection): ProjectedInput {
  if (projection === undefined || projection === FULL_PROJECTION) {
    return {
      method: ctx.method,
      path: ctx.path,
      segments: splitSegments(ctx.path),
      query: ctx.query === '' ? NO_QUERY : parseQuery(ctx.query),
      headers: policyHeaders(ctx.clientHeaders),
      client_ip: ctx.clientIp,
      claims: ctx.claims,
      service: ctx.service,
      rest: ctx.rest,
      color_override: ctx.colorOverride,
      screening: ctx.screening === null ? null : policyScreening(ctx.screening),
    };
  }
  // Fields in INPUT_FIELDS order, so equal requests serialise to equal text (the decision-cache key).
  const input: { -readonly [K in keyof PolicyInput]?: PolicyInput[K] } = {};
  const p = projection;
  if (p.method) input.method = ctx.method;
  if (p.path) input.path = ctx.path;
  if (p.segments) input.segments = splitSegments(ctx.path);
  if (p.query) input.query = ctx.query === '' ? NO_QUERY : parseQuery(ctx.query);
  if (p.headers) input.headers = policyHeaders(ctx.clientHeaders);
  if (p.client_ip) input.client_ip = ctx.clientIp;
  if (p.claims) input.claims = ctx.claims;
  if (p.service) input.service = ctx.service;
  if (p.rest) input.rest = ctx.rest;
  if (p.color_override) input.color_override = ctx.colorOverride;
  if (p.screening) input.screening = ctx.screening === null ? null : policyScreening(ctx.screening);
  return input;
}

const NO_MATCHES: PolicyScreening['matches'] = Object.freeze([]);

export function policyScreening(findings: ScreeningFindings): PolicyScreening {
  const n = findings.matches.length;
  let matches = NO_MATCHES;
  let categories: string[] = [];
  if (n > 0) {
    matches = findings.matches.map((m) => ({
      rule: m.rule,
      category: m.category,
      where: m.placement,
      key: m.key,
    }));
    categories = [...new Set(findings.matches.map((m) => m.category))].sort();
  }
  return {
    matches,
    categories,
    body_inspected: findings.bodyInspected,
    body_skipped: findings.bodySkipped,
    timed_out: findings.timedOut,
    truncated: findings.truncated === true,
  };
}

export function splitSegments(path: string): string[] {
  const out: string[] = [];
  for (const s of path.split('/')) if (s !== '') out.push(s);
  return out;
}

/** application/x-www-form-urlencoded rules (URLSearchParams): '+' is a space, bad escapes kept as text. */
export function parseQuery(query: string): Record<string, string[]> {
  // Null prototype: a parameter named __proto__ must be data, not a prototype change.
  const out: Record<string, string[]> = Object.create(null);
  for (const [name, value] of new URLSearchParams(query)) {
    const values = out[name];
    if (values === undefined) out[name] = [value];
    else values.push(value);
  }
  return out;
}

export function policyHeaders(lines: readonly string[]): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  for (let i = 0; i < lines.length; i += 2) {
    const name = lines[i]!.toLowerCase();
    if (STRIPPED_HEADERS.has(name)) continue;
    const value = lines[i + 1]!;
    const prior = out[name];
    out[name] = prior === undefined ? value : `${prior}, ${value}`;
  }
  return out;
}
