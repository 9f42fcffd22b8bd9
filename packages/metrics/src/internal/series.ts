import { CoreErrors, HeraldError } from '@herald/core';

// Counters and histograms for the per-event path. prom-client's own objects validate and hash the
// label object on every `inc`/`observe` (and build a closure per histogram observation): a few
// hundred nanoseconds that the fact listener paid three times per handled event. These keep each
// label set's series in a map by its label values, so the listener looks a series up once per
// label set and then only adds to numbers. They are registered on a prom-client Registry (its
// public `registerMetric`) and expose exactly what prom-client's Counter and Histogram expose.

type Labels<L extends string> = Readonly<Record<L, string | number>>;

/** One label set's counter. */
export interface CounterSeries {
  value: number;
}

/** One label set's histogram: counts per bucket (not cumulative), sum and count. */
export interface HistogramSeries {
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

abstract class Metric<L extends string, S> {
  readonly aggregator = 'sum';
  protected readonly byKey = new Map<string, { readonly labels: Labels<L>; readonly series: S }>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly L[],
  ) {}

  /** An unlabelled metric shows its one series (at 0) from the start, as prom-client's do; subclasses call it once constructed. */
  protected showUnlabelled(): void {
    if (this.labelNames.length === 0) this.series({} as Labels<L>);
  }

  /** The series of `labels`, created at first use (its label names checked then). Hot paths keep it. */
  series(labels: Labels<L>): S {
    const key = this.keyOf(labels);
    let entry = this.byKey.get(key);
    if (!entry) {
      const names = Object.keys(labels);
      const unknown = names.find((n) => !(this.labelNames as readonly string[]).includes(n));
      if (unknown !== undefined || names.length !== this.labelNames.length) {
        throw new HeraldError(CoreErrors.invalidOptions, `metrics: ${this.name} takes the labels ${this.labelNames.join(', ')}, got ${names.join(', ')}`);
      }
      entry = { labels: { ...labels }, series: this.create() };
      this.byKey.set(key, entry);
    }
    return entry.series;
  }

  /** Zeroes every series (the series objects stay valid for whoever holds them). */
  abstract reset(): void;
  protected abstract create(): S;

  private keyOf(labels: Labels<L>): string {
    let key = '';
    for (const name of this.labelNames) key += `${labels[name]}\u0000`;
    return key;
  }
}

/** A counter: prom-client's `inc(value?)` / `inc(labels, value?)`, plus {@link Metric.series}. */
export class SeriesCounter<L extends string = string> extends Metric<L, CounterSeries> {
  readonly type = 'counter';

  constructor(name: string, help: string, labelNames: readonly L[]) {
    super(name, help, labelNames);
    this.showUnlabelled();
  }

  inc(labelsOrValue?: Labels<L> | number, value?: number): void {
    const [labels, by] = typeof labelsOrValue === 'object' ? [labelsOrValue, value ?? 1] : [{} as Labels<L>, labelsOrValue ?? 1];
    if (!(by >= 0) || !Number.isFinite(by)) throw new HeraldError(CoreErrors.invalidOptions, `metrics: ${this.name} can only go up by a finite number, got ${by}`);
    this.series(labels).value += by;
  }

  protected create(): CounterSeries {
    return { value: 0 };
  }

  reset(): void {
    for (const { series } of this.byKey.values()) series.value = 0;
  }

  async get() {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: [...this.byKey.values()].map(({ labels, series }) => ({ labels: { ...labels }, value: series.value })) };
  }
}

/** A histogram with fixed upper bounds: prom-client's `observe(value)` / `observe(labels, value)`, plus {@link Metric.series}. */
export class SeriesHistogram<L extends string = string> extends Metric<L, HistogramSeries> {
  readonly type = 'histogram';

  constructor(name: string, help: string, labelNames: readonly L[], readonly bounds: readonly number[]) {
    super(name, help, labelNames);
    this.showUnlabelled();
  }

  observe(labelsOrValue: Labels<L> | number, value?: number): void {
    if (typeof labelsOrValue === 'number') this.record(this.series({} as Labels<L>), labelsOrValue);
    else this.record(this.series(labelsOrValue), value!);
  }

  /** Adds one observation to a series. */
  record(series: HistogramSeries, value: number): void {
    if (!Number.isFinite(value)) throw new HeraldError(CoreErrors.invalidOptions, `metrics: ${this.name} observes finite numbers, got ${value}`);
    const { bounds } = this;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    if (i < bounds.length) series.counts[i]!++;
    series.sum += value;
    series.count++;
  }

  protected create(): HistogramSeries {
    return { counts: new Float64Array(this.bounds.length), sum: 0, count: 0 };
  }

  reset(): void {
    for (const { series } of this.byKey.values()) {
      series.counts.fill(0);
      series.sum = series.count = 0;
    }
  }

  /** As prom-client's Histogram: cumulative buckets, `+Inf`, `_sum`, `_count`; the series' labels as shared labels. */
  async getForPromString() {
    const bucket = `${this.name}_bucket`;
    const values: { labels: Record<string, string | number>; sharedLabels: Record<string, string | number>; value: number; metricName: string }[] = [];
    for (const { labels, series } of this.byKey.values()) {
      let cumulative = 0;
      this.bounds.forEach((le, i) => {
        cumulative += series.counts[i]!;
        values.push({ labels: { le }, sharedLabels: labels, value: cumulative, metricName: bucket });
      });
      values.push({ labels: { le: '+Inf' }, sharedLabels: labels, value: series.count, metricName: bucket });
      values.push({ labels: {}, sharedLabels: labels, value: series.sum, metricName: `${this.name}_sum` });
      values.push({ labels: {}, sharedLabels: labels, value: series.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  async get() {
    const data = await this.getForPromString();
    return { ...data, values: data.values.map(({ labels, sharedLabels, value, metricName }) => ({ labels: { ...sharedLabels, ...labels }, value, metricName })) };
  }
}
