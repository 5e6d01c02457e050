// Which fields of the input document a bundle's policy reads. A bundle declares them next to its policy,
// in its data: `data.acgs.input.fields` (policies/data.json), e.g. ["method", "path", "claims"]. The
// gateway then builds and hands the engine only those fields: no query parsing, no header copies, a
// smaller document to serialise and a smaller decision-cache key. A bundle without the declaration gets
// the whole document. Whatever the declaration says, the engine only ever sees the projected document,
// so a policy that reads a field it did not declare sees it as undefined (its author's tests catch it),
// and a decision is always a function of exactly the document it was given (see decision-cache.ts).
import type { PolicyInput } from './input.js';

export type InputField = keyof PolicyInput;

/** Every field of the input document, in the order they are serialised. */
export const INPUT_FIELDS: readonly InputField[] = Object.freeze([
  'method',
  'path',
  'segments',
  'query',
  'headers',
  'client_ip',
  'claims',
  'service',
  'rest',
  'color_override',
  'screening',
]);

/** The fields to build, as flags (one property read per field on the hot path). */
export interface InputProjection {
  readonly fields: readonly InputField[];
  readonly method: boolean;
  readonly path: boolean;
  readonly segments: boolean;
  readonly query: boolean;
  readonly headers: boolean;
  readonly client_ip: boolean;
  readonly claims: boolean;
  readonly service: boolean;
  readonly rest: boolean;
  readonly color_override: boolean;
  readonly screening: boolean;
}

function projectionOf(fields: readonly InputField[]): InputProjection {
  const set = new Set(fields);
  const flags = Object.fromEntries(INPUT_FIELDS.map((f) => [f, set.has(f)])) as Record<InputField, boolean>;
  return Object.freeze({ ...flags, fields: Object.freeze(INPUT_FIELDS.filter((f) => set.has(f))) });
}

export const FULL_PROJECTION: InputProjection = projectionOf(INPUT_FIELDS);

/**
 * The projection a bundle's data declares, FULL_PROJECTION when it declares none, or a message saying
 * what is wrong with the declaration (the bundle is then refused: a typo must not silently hide a field).
 */
export function readProjection(data: unknown): InputProjection | string {
  const declared = dig(data, ['acgs', 'input', 'fields']);
  if (declared === undefined) return FULL_PROJECTION;
  if (!Array.isArray(declared)) return 'data.acgs.input.fields must be an array of input field names';
  const fields: InputField[] = [];
  for (const f of declared) {
    if (typeof f !== 'string' || !(INPUT_FIELDS as readonly string[]).includes(f)) {
      return `data.acgs.input.fields: ${JSON.stringify(f)} is not an input field (one of ${INPUT_FIELDS.join(', ')})`;
    }
    fields.push(f as InputField);
  }
  return projectionOf(fields);
}

function dig(value: unknown, path: readonly string[]): unknown {
  let cur = value;
  for (const key of path) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur)) return undefined;
    cur = Object.hasOwn(cur, key) ? (cur as Record<string, unknown>)[key] : undefined;
  }
  return cur;
}
