import { CoreErrors, HeraldError } from '@herald/core';

/** One sample line of a Prometheus text exposition. */
export interface ExpositionSample {
  /** The sample's name, suffix included (`herald_critical_time_seconds_bucket`). */
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/;
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(?:,|$)/y;

/**
 * Parses the samples of a Prometheus text exposition (format 0.0.4, what `/metrics` serves),
 * skipping comments (`# HELP`, `# TYPE`). For tests and tools that read `/metrics`; Prometheus
 * itself is the real consumer. A malformed line is refused with `invalid-options` naming it.
 */
export function parseExposition(text: string): ExpositionSample[] {
  const samples: ExpositionSample[] = [];
  for (const [index, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = SAMPLE.exec(line);
    const labels = match ? parseLabels(match[2] ?? '') : undefined;
    const value = match ? parseValue(match[3]!) : undefined;
    if (!match || !labels || value === undefined) {
      throw new HeraldError(CoreErrors.invalidOptions, `exposition line ${index + 1} is not a sample: ${raw}`);
    }
    samples.push({ name: match[1]!, labels, value });
  }
  return samples;
}

/**
 * Sums the samples named `name` whose labels include every pair of `labels` (0 when none match):
 * `sumSamples(samples, 'herald_events_handled_total', { group: 'billing', outcome: 'applied' })`.
 */
export function sumSamples(samples: readonly ExpositionSample[], name: string, labels: Readonly<Record<string, string>> = {}): number {
  const wanted = Object.entries(labels);
  let sum = 0;
  for (const sample of samples) {
    if (sample.name === name && wanted.every(([key, value]) => sample.labels[key] === value)) sum += sample.value;
  }
  return sum;
}

function parseLabels(text: string): Record<string, string> | undefined {
  const labels: Record<string, string> = {};
  LABEL.lastIndex = 0;
  while (LABEL.lastIndex < text.length) {
    const match = LABEL.exec(text);
    if (!match) return undefined;
    labels[match[1]!] = match[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
  }
  return labels;
}

/** A float as Prometheus reads one (Go's ParseFloat: `NaN`, `+Inf`, `-Inf` in any case), or undefined. */
function parseValue(text: string): number | undefined {
  if (/^nan$/i.test(text)) return Number.NaN;
  if (/^\+?inf$/i.test(text)) return Number.POSITIVE_INFINITY;
  if (/^-inf$/i.test(text)) return Number.NEGATIVE_INFINITY;
  const value = Number(text);
  return Number.isNaN(value) ? undefined : value;
}
