import { HeraldError } from '@herald/core';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { MetricsErrors } from '../errors.js';
import { COUNTERS, GAUGES, HISTOGRAMS, type HistogramSpec, type MetricSpec } from '../names.js';

type LabelOf<S> = S extends MetricSpec<infer L> ? L : never;

/** The prom-client objects behind every name in `names.ts`, registered on one registry. */
export interface Instruments {
  readonly counters: { readonly [K in keyof typeof COUNTERS]: Counter<LabelOf<(typeof COUNTERS)[K]>> };
  readonly histograms: { readonly [K in keyof typeof HISTOGRAMS]: Histogram<LabelOf<(typeof HISTOGRAMS)[K]>> };
  readonly gauges: { readonly [K in keyof typeof GAUGES]: Gauge<LabelOf<(typeof GAUGES)[K]>> };
}

/** Work a gauge does right before each scrape (e.g. turning a timestamp into an age). */
export type GaugeCollectors = { readonly [K in keyof typeof GAUGES]?: (gauge: Gauge<LabelOf<(typeof GAUGES)[K]>>) => void };

/** Creates and registers every metric; a name already on `registry` is a `metrics-registry-conflict`. */
export function createInstruments(registry: Registry, collectors: GaugeCollectors = {}): Instruments {
  const taken = Object.values({ ...COUNTERS, ...HISTOGRAMS, ...GAUGES }).find((spec) => registry.getSingleMetric(spec.name) !== undefined);
  if (taken) throw new HeraldError(MetricsErrors.registryConflict, `metrics: the registry already has a metric named ${taken.name}`);
  const registers = [registry];
  const counter = (spec: MetricSpec) => new Counter({ name: spec.name, help: spec.help, labelNames: spec.labelNames, registers });
  const histogram = (spec: HistogramSpec) => new Histogram({ name: spec.name, help: spec.help, labelNames: spec.labelNames, buckets: [...spec.buckets], registers });
  const gauge = (spec: MetricSpec, collect: ((g: Gauge) => void) | undefined) =>
    new Gauge({ name: spec.name, help: spec.help, labelNames: spec.labelNames, registers, ...(collect ? { collect: function collectGauge(this: Gauge) { collect(this); } } : {}) });
  return {
    counters: mapSpecs(COUNTERS, counter),
    histograms: mapSpecs(HISTOGRAMS, histogram),
    gauges: mapSpecs(GAUGES, (spec, key) => gauge(spec, collectors[key] as ((g: Gauge) => void) | undefined)),
  } as unknown as Instruments;
}

function mapSpecs<S extends Record<string, MetricSpec>, M>(specs: S, make: (spec: S[keyof S], key: keyof S) => M): Record<keyof S, M> {
  return Object.fromEntries(Object.entries(specs).map(([key, spec]) => [key, make(spec as S[keyof S], key as keyof S)])) as Record<keyof S, M>;
}
