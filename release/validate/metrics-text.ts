// A reader for the Prometheus text exposition format (what each replica's /metrics answers), enough to
// take before/after deltas of counters and histograms. Comments and TYPE/HELP lines are skipped.

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, '$1');
    const raw = m[3]!;
    const value =
      raw === '+Inf' ? Number.POSITIVE_INFINITY : raw === '-Inf' ? Number.NEGATIVE_INFINITY : Number(raw);
    out.push({ name: m[1]!, labels, value });
  }
  return out;
}

type Match = Readonly<Record<string, string>>;

const matches = (s: Sample, name: string, match: Match) =>
  s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v);

/** Sum of every series of `name` whose labels include `match`; null when there is no such series. */
export function sumOf(samples: readonly Sample[], name: string, match: Match = {}): number | null {
  let found = false;
  let total = 0;
  for (const s of samples) {
    if (!matches(s, name, match)) continue;
    found = true;
    total += s.value;
  }
  return found ? total : null;
}

/** Cumulative histogram buckets (le → count) of `name`, summed over the other labels. */
export function bucketsOf(samples: readonly Sample[], name: string, match: Match = {}): Map<number, number> {
  const out = new Map<number, number>();
  for (const s of samples) {
    if (!matches(s, `${name}_bucket`, match) || s.labels.le === undefined) continue;
    const le = s.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(s.labels.le);
    out.set(le, (out.get(le) ?? 0) + s.value);
  }
  return out;
}

/** after − before per bucket: the histogram of what happened between two scrapes. */
export function bucketDelta(
  before: ReadonlyMap<number, number>,
  after: ReadonlyMap<number, number>,
): Map<number, number> {
  const out = new Map<number, number>();
  for (const [le, count] of after) out.set(le, Math.max(0, count - (before.get(le) ?? 0)));
  return out;
}

/** Values of one label over the series of `name` (e.g. the bundle revision of acgs_policy_bundle_info). */
export function labelValues(samples: readonly Sample[], name: string, label: string): string[] {
  const values = new Set<string>();
  for (const s of samples)
    if (s.name === name && s.labels[label] !== undefined && s.value !== 0) values.add(s.labels[label]!);
  return [...values];
}
