import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { COUNTERS, GAUGES, HISTOGRAMS, type ExpositionSample } from '@herald/metrics';
import { runTool } from '../../../../packages/metrics/test/support/tools.js';
import { allPanels, dashboardQueries, DASHBOARDS_DIR, metricNames, readDashboard } from '../../../../test/monitoring/promql.js';

/** Seed 003's E2E Order Flow dashboard, as Grafana is provisioned with it. */
export const FLOW_DASHBOARD = join(DASHBOARDS_DIR, 'ticket-orders-e2e-order-flow.json');

/** The queries of the E2E Order Flow panel titled `title`, by refId. */
export function panelQueries(title: string): Record<string, string> {
  const panel = allPanels(readDashboard(FLOW_DASHBOARD)).find((p) => p.title === title);
  if (!panel) throw new Error(`no panel "${title}" in ${FLOW_DASHBOARD}`);
  return Object.fromEntries((panel.targets ?? []).map((t) => [t.refId, t.expr]));
}

/** Every query of the E2E Order Flow dashboard, with the panel it belongs to. */
export function allQueries(): { where: string; expr: string }[] {
  return dashboardQueries(readDashboard(FLOW_DASHBOARD));
}

/** The label names of each series name Herald exports (a histogram's `_bucket` also has `le`). */
const LABELS: ReadonlyMap<string, readonly string[]> = new Map<string, readonly string[]>([
  ...[...Object.values(COUNTERS), ...Object.values(GAUGES)].map((spec): [string, readonly string[]] => [spec.name, spec.labelNames]),
  ...Object.values(HISTOGRAMS).flatMap((spec): [string, readonly string[]][] => [
    [`${spec.name}_bucket`, [...spec.labelNames, 'le']],
    [`${spec.name}_sum`, spec.labelNames],
    [`${spec.name}_count`, spec.labelNames],
  ]),
]);

/**
 * What in a PromQL expression asks Herald's metrics for something they cannot have: a label a
 * metric's selector matches on that the metric does not carry (`herald_events_relayed_total{topic=...}`
 * selects nothing), a `by (...)` label none of the expression's metrics carries, a name Herald does
 * not export. Empty when the expression only uses what exists.
 */
export function unknownLabels(expr: string): string[] {
  const problems: string[] = [];
  const names = metricNames(expr);
  for (const name of names) if (!LABELS.has(name)) problems.push(`${name}: not a Herald metric`);
  for (const [, name, matchers] of expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}/g)) {
    const known = LABELS.get(name!) ?? [];
    for (const [, label] of matchers!.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)\s*"(?:[^"\\]|\\.)*"/g)) {
      if (!known.includes(label!)) problems.push(`${name}: no label ${label}`);
    }
  }
  const carried = new Set(names.flatMap((name) => LABELS.get(name) ?? []));
  for (const [, list] of expr.matchAll(/\bby\s*\(([^)]*)\)/g)) {
    for (const label of list!.split(',').map((l) => l.trim()).filter(Boolean)) if (!carried.has(label)) problems.push(`by (${label}): no metric of the query has it`);
  }
  return problems;
}

/**
 * The scrapes of several processes as Prometheus keeps them: each sample labelled with the
 * `instance` it was scraped from, so the same series of two processes stay two series.
 */
export function asInstances(perProcess: readonly (readonly ExpositionSample[])[]): ExpositionSample[] {
  return perProcess.flatMap((samples, i) => samples.map((s) => ({ ...s, labels: { ...s.labels, instance: `process-${i}` } })));
}

/** A PromQL expression and the one value, with no labels, it must give. */
export interface PromqlExpectation {
  readonly expr: string;
  readonly value: number;
}

const GAUGE_NAMES: ReadonlySet<string> = new Set(Object.values(GAUGES).map((spec) => spec.name));

/**
 * Evaluates `expectations` with Prometheus' own engine (`promtool test rules`) over one scrape of
 * a process whose counters started at 0: each Herald series gets two samples a minute apart (0, or
 * for a gauge its value, then its value), and each expression is evaluated at the second one with
 * Grafana's `$__rate_interval` as 2m — what a panel shows just after that scrape. Resolves with
 * promtool's exit code and output (which prints what each failing expression gave).
 */
export async function checkPromql(samples: readonly ExpositionSample[], expectations: readonly PromqlExpectation[]): Promise<{ code: number; out: string }> {
  const series = samples
    .filter((s) => s.name.startsWith('herald_'))
    .map((s) => ({
      series: `${s.name}{${Object.entries(s.labels).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',')}}`,
      values: `${GAUGE_NAMES.has(s.name) ? s.value : 0} ${s.value}`,
    }));
  const tests = {
    evaluation_interval: '1m',
    tests: [
      {
        interval: '1m',
        input_series: series,
        promql_expr_test: expectations.map((e) => ({ expr: e.expr.replaceAll('$__rate_interval', '2m'), eval_time: '1m', exp_samples: [{ labels: '{}', value: e.value }] })),
      },
    ],
  };
  const dir = mkdtempSync(join(tmpdir(), 'herald-ticket-orders-promql-'));
  try {
    // YAML is a superset of JSON: no quoting to get wrong
    writeFileSync(join(dir, 'panels.test.yml'), JSON.stringify(tests));
    const result = await runTool('promtool', ['test', 'rules', 'panels.test.yml'], { cwd: dir });
    return { code: result.code, out: `${result.stdout}${result.stderr}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
