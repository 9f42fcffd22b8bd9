import { HeraldError } from '@herald/core';
import { Gauge, type Registry } from 'prom-client';
import { MetricsErrors } from '../errors.js';
import { COUNTERS, GAUGES, HISTOGRAMS, type HistogramSpec, type MetricSpec } from '../names.js';
import { SeriesCounter, SeriesHistogram } from './series.js';

type LabelOf<S> = S extends MetricSpec<infer L> ? L : never;

/** The prom-client objects behind every name in `names.ts`, registered on one registry. */
export interface Instruments {
  readonly counters: { readonly [K in keyof typeof COUNTERS]: SeriesCounter<LabelOf<(typeof COUNTERS)[K]>> };
  readonly histograms: { readonly [K in keyof typeof HISTOGRAMS]: SeriesHistogram<LabelOf<(typeof HISTOGRAMS)[K]>> };
  readonly gauges: { readonly [K in keyof typeof GAUGES]: Gauge<LabelOf<(typeof GAUGES)[K]>> };
}

/** Work a gauge does right before each scrape (e.g. turning a timestamp into an age). */
export type GaugeCollectors = { readonly [K in keyof typeof GAUGES]?: (gauge: Gauge<LabelOf<(typeof GAUGES)[K]>>) => void };

/** Creates and registers every metric; a name already on `registry` is a `metrics-registry-conflict`. */
export function createInstruments(registry: Registry, collectors: GaugeCollectors = {}): Instruments {
  const taken = Object.values({ ...COUNTERS, ...HISTOGRAMS, ...GAUGES }).find((spec) => registry.getSingleMetric(spec.name) !== undefined);
  if (taken) throw new HeraldError(MetricsErrors.registryConflict, `metrics: the registry already has a metric named ${taken.name}`);
  const registers = [registry];
  const register = <M extends SeriesCounter | SeriesHistogram>(metric: M): M => {
    registry.registerMetric(metric as unknown as Parameters<Registry['registerMetric']>[0]);
    return metric;
  };
  const counter = (spec: MetricSpec) => register(new SeriesCounter(spec.name, spec.help, spec.labelNames));
  const histogram = (spec: HistogramSpec) => register(new SeriesHistogram(spec.name, spec.help, spec.labelNames, [...spec.buckets]));
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
