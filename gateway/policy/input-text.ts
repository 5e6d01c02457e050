// The input document as JSON text, written straight from the request context: the decision path needs
// only the text (it is what the wasm module reads and the decision-cache key), so it never builds the
// input object (input.ts builds that for the decision log and tests). Produces exactly
// JSON.stringify(buildPolicyInput(ctx, projection)) (test/policy/input-text.test.ts holds it to that),
// with the parts that repeat across requests serialised once: a token's claims (claims objects are frozen
// and shared by every request with that token, see auth/token-cache.ts) and a clean screening result.
import type { Claims, RequestContext, ScreeningFindings } from '../../core/types.js';
import { parseQuery, policyHeaders, policyScreening, splitSegments } from './input.js';
import { FULL_PROJECTION, type InputProjection } from './projection.js';

const claimsText = new WeakMap<Claims, string>();

function claimsJson(claims: Claims): string {
  let text = claimsText.get(claims);
  if (text === undefined) {
    text = JSON.stringify(claims);
    // Only a frozen object can be remembered: a mutable one could change under its text.
    if (Object.isFrozen(claims)) claimsText.set(claims, text);
  }
  return text;
}

/** Screening results without matches, by their flags: a handful of texts cover nearly every request. */
const cleanScreening = new Map<string, string>();

function screeningJson(findings: ScreeningFindings): string {
  if (findings.matches.length > 0) return JSON.stringify(policyScreening(findings));
  const key = `${findings.bodyInspected ? 1 : 0}${findings.timedOut ? 1 : 0}${findings.truncated === true ? 1 : 0}${findings.bodySkipped ?? ''}`;
  let text = cleanScreening.get(key);
  if (text === undefined) {
    text = JSON.stringify(policyScreening(findings));
    // The skip reasons are a fixed list; the guard only bounds the map against a future free-form one.
    if (cleanScreening.size < 64) cleanScreening.set(key, text);
  }
  return text;
}

const str = JSON.stringify as (s: string) => string;
const orNull = (s: string | null): string => (s === null ? 'null' : str(s));

export function policyInputText(ctx: RequestContext, projection: InputProjection = FULL_PROJECTION): string {
  const p = projection;
  let out = '{';
  let sep = '';
  if (p.method) {
    out += `"method":${str(ctx.method)}`;
    sep = ',';
  }
  if (p.path) {
    out += `${sep}"path":${str(ctx.path)}`;
    sep = ',';
  }
  if (p.segments) {
    out += `${sep}"segments":${JSON.stringify(splitSegments(ctx.path))}`;
    sep = ',';
  }
  if (p.query) {
    out += `${sep}"query":${ctx.query === '' ? '{}' : JSON.stringify(parseQuery(ctx.query))}`;
    sep = ',';
  }
  if (p.headers) {
    out += `${sep}"headers":${JSON.stringify(policyHeaders(ctx.clientHeaders))}`;
    sep = ',';
  }
  if (p.client_ip) {
    out += `${sep}"client_ip":${str(ctx.clientIp)}`;
    sep = ',';
  }
  if (p.claims) {
    out += `${sep}"claims":${ctx.claims === null ? 'null' : claimsJson(ctx.claims)}`;
    sep = ',';
  }
  if (p.service) {
    out += `${sep}"service":${orNull(ctx.service)}`;
    sep = ',';
  }
  if (p.rest) {
    out += `${sep}"rest":${str(ctx.rest)}`;
    sep = ',';
  }
  if (p.color_override) {
    out += `${sep}"color_override":${orNull(ctx.colorOverride)}`;
    sep = ',';
  }
  if (p.screening)
    out += `${sep}"screening":${ctx.screening === null ? 'null' : screeningJson(ctx.screening)}`;
  return `${out}}`;
}
