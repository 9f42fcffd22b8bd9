import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { SeriesCounter, SeriesHistogram } from '../src/internal/series.js';

// The per-event counters and histograms must be indistinguishable from prom-client's on a scrape:
// the same observations give the same exposition text, line for line.

const BOUNDS = [0.005, 0.05, 0.5, 5];
const OBSERVATIONS: readonly [Record<'group' | 'event_type', string>, number][] = [
  [{ group: 'billing', event_type: 'OrderPlaced' }, 0.004],
  [{ group: 'billing', event_type: 'OrderPlaced' }, 0.005],
  [{ group: 'billing', event_type: 'OrderPlaced' }, 0.3],
  [{ group: 'shipping', event_type: 'OrderPlaced' }, 7],
  [{ group: 'billing', event_type: 'OrderPaid' }, 0],
];

async function both(
  fillProm: (prom: { counter: Counter<string>; histogram: Histogram<string>; plain: Counter<string> }) => void,
  fillOurs: (ours: { counter: SeriesCounter<string>; histogram: SeriesHistogram<string>; plain: SeriesCounter<string> }) => void,
) {
  const promRegistry = new Registry();
  const prom = {
    counter: new Counter({ name: 'x_handled_total', help: 'h', labelNames: ['group', 'event_type'], registers: [promRegistry] }),
    histogram: new Histogram({ name: 'x_duration_seconds', help: 'd', labelNames: ['group', 'event_type'], buckets: BOUNDS, registers: [promRegistry] }),
    plain: new Counter({ name: 'x_relayed_total', help: 'r', registers: [promRegistry] }),
  };
  const ourRegistry = new Registry();
  const ours = {
    counter: new SeriesCounter('x_handled_total', 'h', ['group', 'event_type']),
    histogram: new SeriesHistogram('x_duration_seconds', 'd', ['group', 'event_type'], BOUNDS),
    plain: new SeriesCounter('x_relayed_total', 'r', []),
  };
  for (const metric of Object.values(ours)) ourRegistry.registerMetric(metric as never);
  fillProm(prom);
  fillOurs(ours);
  return { prom: await promRegistry.metrics(), ours: await ourRegistry.metrics(), promJson: await promRegistry.getMetricsAsJSON(), ourJson: await ourRegistry.getMetricsAsJSON() };
}

describe('series counters and histograms', () => {
  it('expose exactly what prom-client exposes for the same observations, through inc/observe or a held series', async () => {
    const result = await both(
      (prom) => {
        for (const [labels, value] of OBSERVATIONS) {
          prom.counter.inc(labels);
          prom.histogram.observe(labels, value);
        }
        prom.plain.inc(3);
      },
      (ours) => {
        const [first, ...rest] = OBSERVATIONS;
        const held = ours.histogram.series(first![0]);
        ours.histogram.record(held, first![1]);
        ours.counter.series(first![0]).value++;
        for (const [labels, value] of rest) {
          ours.counter.inc(labels);
          ours.histogram.observe(labels, value);
        }
        ours.plain.inc(3);
      },
    );
    expect(result.ours).toBe(result.prom);
    // and the same JSON (prom-client adds an empty exemplar to each histogram value)
    const withoutExemplars = (json: typeof result.promJson) => json.map((m) => ({ ...m, values: m.values.map((v) => ({ labels: v.labels, value: v.value, metricName: (v as { metricName?: string }).metricName })) }));
    expect(withoutExemplars(result.ourJson)).toEqual(withoutExemplars(result.promJson));
  });

  it('show an unlabelled counter at 0 before anything happened, as prom-client does', async () => {
    const result = await both(
      () => {},
      () => {},
    );
    expect(result.ours).toBe(result.prom);
    expect(result.ours).toContain('x_relayed_total 0');
  });

  it('keep held series valid across a reset, and refuse wrong labels and values', async () => {
    const histogram = new SeriesHistogram('y_seconds', 'y', ['group'], BOUNDS);
    const held = histogram.series({ group: 'g' });
    histogram.record(held, 1);
    histogram.reset();
    histogram.record(held, 0.01);
    const values = (await histogram.get()).values;
    expect(values.find((v) => v.metricName === 'y_seconds_count')).toMatchObject({ labels: { group: 'g' }, value: 1 });
    expect(() => histogram.series({ grop: 'g' } as never)).toThrow(expect.objectContaining({ code: 'invalid-options' }));
    expect(() => histogram.observe({ group: 'g' }, Number.NaN)).toThrow(expect.objectContaining({ code: 'invalid-options' }));
    expect(() => new SeriesCounter('z_total', 'z', []).inc(-1)).toThrow(expect.objectContaining({ code: 'invalid-options' }));
  });
});
