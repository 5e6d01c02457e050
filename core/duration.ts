import { z } from 'zod';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses '250ms', '30s', '5m', '1h' or a plain number of milliseconds. Returns NaN when malformed. */
export function parseDuration(value: string | number): number {
  if (typeof value === 'number') return value;
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)$/.exec(value.trim());
  if (!match) return Number.NaN;
  return Number(match[1]) * (UNIT_MS[match[2]!] ?? Number.NaN);
}

/** A duration field: a number of milliseconds or a string like '30s'; validated to be >= min ms. */
export function duration(min = 0) {
  return z.union([z.number(), z.string()]).transform((value, ctx) => {
    const ms = parseDuration(value);
    if (!Number.isFinite(ms) || ms < min) {
      ctx.addIssue({
        code: 'custom',
        message: `must be a duration of at least ${min} ms (a number of ms or e.g. '500ms', '30s', '5m')`,
      });
      return z.NEVER;
    }
    return Math.round(ms);
  });
}
