// Hot metrics must scrape exactly like the prom-client metrics they replace: same series, same values,
// same text (label order aside, which Prometheus ignores), so dashboards, alerts and validate see no change.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Counter, Histogram, Registry } from 'prom-client';
import { HotCounter, HotHistogram, hotCounter } from '../../gateway/metrics/hot-metrics.js';

/** Each sample line with its labels sorted, so two registries' texts compare. */
function normalised(text: string): string[] {
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((line) => {
      const m = /^([^{\s]+)(?:\{(.*)\})? (.+)$/.exec(line);
      if (m === null || line.startsWith('#')) return line;
      const labels = (m[2] ?? '')
        .split(/,(?=\w+=")/)
        .filter(Boolean)
        .sort()
        .join(',');
      return `${m[1]}{${labels}} ${m[3]}`;
    })
    .sort();
}

describe('hot metrics', () => {
  test('a counter scrapes as prom-client does, labelled and not, object or positional labels', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const hot = new HotCounter('x_total', 'help text', ['service', 'class'], ours);
    const ref = new Counter({
      name: 'x_total',
      help: 'help text',
      labelNames: ['service', 'class'],
      registers: [theirs],
    });
    const plainHot = new HotCounter('y_total', 'plain', [], ours);
    new Counter({ name: 'y_total', help: 'plain', registers: [theirs] });
    const a = hot.labels('ac', '2xx');
    for (let i = 0; i < 5; i++) a.inc();
    hot.labels({ service: 'fv', class: '5xx' }).inc(3);
    ref.labels('ac', '2xx').inc(5);
    ref.labels({ service: 'fv', class: '5xx' }).inc(3);
    assert.equal(hot.labels('ac', '2xx'), a, 'one series per label set');
    assert.deepEqual(normalised(await ours.metrics()), normalised(await theirs.metrics()));
    plainHot.inc();
    assert.match(await ours.metrics(), /^y_total 1$/m);
    assert.throws(() => hot.labels('only-one'), /expected labels service, class/);
  });

  test('a histogram scrapes as prom-client does: cumulative buckets, +Inf, sum and count', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const buckets = [0.001, 0.01, 0.1];
    const hot = new HotHistogram('d_seconds', 'durations', ['color'], buckets, ours);
    const ref = new Histogram({
      name: 'd_seconds',
      help: 'durations',
      labelNames: ['color'],
      buckets,
      registers: [theirs],
    });
    const plainHot = new HotHistogram('p_seconds', 'plain', [], buckets, ours);
    const plainRef = new Histogram({ name: 'p_seconds', help: 'plain', buckets, registers: [theirs] });
    // Values on, below, between and above the bounds: le is "less than or equal".
    for (const v of [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 7]) {
      hot.labels('blue').observe(v);
      ref.labels('blue').observe(v);
      plainHot.observe(v);
      plainRef.observe(v);
    }
    hot.labels('green').observe(0.002);
    ref.labels('green').observe(0.002);
    assert.deepEqual(normalised(await ours.metrics()), normalised(await theirs.metrics()));
    const json = (await ours.getMetricsAsJSON()).find((m) => m.name === 'p_seconds');
    assert.equal(json?.type, 'histogram');
  });

  test('a second stage on one registry reuses the counter; reset zeroes bound series', async () => {
    const registry = new Registry();
    const first = hotCounter(registry, 'z_total', 'z', ['r']);
    assert.equal(hotCounter(registry, 'z_total', 'z', ['r']), first);
    const s = first.labels('a');
    s.inc(2);
    registry.resetMetrics();
    s.inc();
    assert.match(await registry.metrics(), /^z_total\{r="a"\} 1$/m);
  });
});
