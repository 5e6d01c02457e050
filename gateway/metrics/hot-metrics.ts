// Counters and histograms for the per-request path. prom-client hashes the label set on every inc() and
// observe(), even through a child bound with .labels() (about 0.5–1 µs each, several per request); these
// bind a series once and then cost a number addition (a bucket scan for a histogram). They register in
// a prom-client Registry like its own metrics and expose the same text and JSON, so scrapes, alerts and
// the tests read them unchanged. Use them where a metric is touched per request; prom-client's classes
// stay for everything else.
import type { Registry } from 'prom-client';

type LabelValues = Readonly<Record<string, string>>;

interface ExportedValue {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

abstract class HotMetric<S extends { readonly labels: LabelValues }> {
  readonly aggregator = 'sum';
  readonly #series = new Map<string, S>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    registry: Registry,
  ) {
    registry.registerMetric(this as never);
  }

  protected abstract create(labels: LabelValues): S;

  /** The series of these label values (positional, in labelNames order, or an object): bind it once. */
  labels(...args: string[] | [LabelValues]): S {
    const values =
      typeof args[0] === 'object'
        ? this.labelNames.map((n) => (args[0] as LabelValues)[n] ?? '')
        : (args as string[]);
    if (values.length !== this.labelNames.length) {
      throw new Error(
        `${this.name}: expected labels ${this.labelNames.join(', ')}, got ${values.length} values`,
      );
    }
    const key = values.join('\u0001');
    let series = this.#series.get(key);
    if (series === undefined) {
      const labels: Record<string, string> = {};
      this.labelNames.forEach((n, i) => {
        labels[n] = String(values[i]);
      });
      series = this.create(Object.freeze(labels));
      this.#series.set(key, series);
    }
    return series;
  }

  protected get series(): IterableIterator<S> {
    return this.#series.values();
  }

  /** Zeroes every series (bound series stay valid, as prom-client's reset() would not keep them). */
  abstract reset(): void;
}

export class CounterSeries {
  value = 0;
  constructor(readonly labels: LabelValues) {}
  inc(by = 1): void {
    this.value += by;
  }
}

export class HotCounter extends HotMetric<CounterSeries> {
  readonly type = 'counter';
  readonly #plain: CounterSeries | null;

  constructor(name: string, help: string, labelNames: readonly string[], registry: Registry) {
    super(name, help, labelNames, registry);
    // Exported as 0 from the start, as prom-client does for a metric without labels.
    this.#plain = labelNames.length === 0 ? this.labels() : null;
  }

  protected create(labels: LabelValues): CounterSeries {
    return new CounterSeries(labels);
  }

  /** The unlabelled series' inc (a counter without label names). */
  inc(by = 1): void {
    (this.#plain ?? this.labels()).inc(by);
  }

  get() {
    const values: ExportedValue[] = [];
    for (const s of this.series) values.push({ labels: { ...s.labels }, value: s.value });
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {
    for (const s of this.series) s.value = 0;
  }
}

export class HistogramSeries {
  /** counts[i]: observations in (bounds[i-1], bounds[i]]; the last slot is above every bound. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    readonly labels: LabelValues,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && value > b[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }
}

export class HotHistogram extends HotMetric<HistogramSeries> {
  readonly type = 'histogram';
  readonly bounds: readonly number[];

  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    buckets: readonly number[],
    registry: Registry,
  ) {
    super(name, help, labelNames, registry);
    this.bounds = Object.freeze([...buckets].sort((a, b) => a - b));
    this.#plain = labelNames.length === 0 ? this.labels() : null;
  }

  readonly #plain: HistogramSeries | null;

  protected create(labels: LabelValues): HistogramSeries {
    return new HistogramSeries(labels, this.bounds);
  }

  /** The unlabelled series' observe (a histogram without label names). */
  observe(value: number): void {
    (this.#plain ?? this.labels()).observe(value);
  }

  /** prom-client's histogram export: cumulative _bucket per bound, then +Inf, _sum and _count. */
  get() {
    const values: ExportedValue[] = [];
    const bucket = `${this.name}_bucket`;
    for (const s of this.series) {
      let acc = 0;
      this.bounds.forEach((le, i) => {
        acc += s.counts[i]!;
        values.push({ labels: { ...s.labels, le }, value: acc, metricName: bucket });
      });
      values.push({ labels: { ...s.labels, le: '+Inf' }, value: s.count, metricName: bucket });
      values.push({ labels: { ...s.labels }, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { ...s.labels }, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {
    for (const s of this.series) {
      s.counts.fill(0);
      s.sum = 0;
      s.count = 0;
    }
  }
}

/** The hot counter already registered under `name` (a second stage on one registry, e.g. on reload), or a new one. */
export function hotCounter(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly string[] = [],
): HotCounter {
  const existing = registry.getSingleMetric(name) as unknown;
  if (existing instanceof HotCounter) return existing;
  return new HotCounter(name, help, labelNames, registry);
}

/** The hot histogram already registered under `name`, or a new one. */
export function hotHistogram(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly string[],
  buckets: readonly number[],
): HotHistogram {
  const existing = registry.getSingleMetric(name) as unknown;
  if (existing instanceof HotHistogram) return existing;
  return new HotHistogram(name, help, labelNames, buckets, registry);
}
