import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { COUNTERS, GAUGES, HISTOGRAMS, parseExposition } from '@herald/metrics';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTool } from '../../packages/metrics/test/support/tools.js';
import { exposedNames, liveExposition, PROMETHEUS_NAMES } from './exposed.js';
import { EXTERNAL_EXPORTERS, EXTERNAL_NAMES } from './externalMetrics.js';
import { allPanels, dashboardQueries, DASHBOARDS_DIR, DEPLOY, filesIn, metricNames, readDashboard, ruleExpressions, RULES_DIR, type Dashboard } from './promql.js';

const dashboards = filesIn(DASHBOARDS_DIR, '.json').map((file) => ({ file, dashboard: readDashboard(file) }));
const ruleFiles = filesIn(RULES_DIR, '.yml');

/** Every PromQL expression of the dashboards and the rules, with where it comes from. */
function expressions(): { where: string; expr: string }[] {
  const fromDashboards = dashboards.flatMap(({ dashboard }) => dashboardQueries(dashboard));
  const fromRules = ruleFiles.flatMap((file) => ruleExpressions(readFileSync(file, 'utf8')).map((expr, i) => ({ where: `${file} rule ${i + 1}`, expr })));
  return [...fromDashboards, ...fromRules];
}

describe('the dashboards and alert rules query only metrics the exporters expose', () => {
  let exposed: Set<string>;
  let sampled: Set<string>;
  /** The names of `expr` that neither Herald's scrape, Prometheus nor a listed external exporter has. */
  const unknown = (expr: string) => metricNames(expr).filter((name) => !exposed.has(name) && !PROMETHEUS_NAMES.has(name) && !EXTERNAL_NAMES.has(name));
  beforeAll(async () => {
    const exposition = await liveExposition();
    exposed = exposedNames(exposition);
    sampled = new Set(parseExposition(exposition).map((s) => s.name));
  });

  it('finds every metric name of every dashboard panel and every rule in a live scrape, or in the external exporters\' lists', () => {
    const all = expressions();
    expect(dashboards.length).toBeGreaterThanOrEqual(2);
    expect(all.length).toBeGreaterThan(40);
    expect(all.flatMap(({ where, expr }) => unknown(expr).map((name) => `${where}: ${name}`))).toEqual([]);
  });

  it('scrapes running streams: every stream metric has series, not only its declaration', () => {
    const names = [...Object.values(COUNTERS), ...Object.values(GAUGES)].map((spec) => spec.name).filter((name) => name.startsWith('herald_stream_'));
    expect(names).toHaveLength(4);
    expect(names.filter((name) => !sampled.has(name))).toEqual([]);
  });

  it('the check can fail: a misspelt name, a histogram queried without its suffix, a label taken for a name, an external name not listed', () => {
    expect(unknown('sum(rate(herald_events_handeld_total[5m]))')).toEqual(['herald_events_handeld_total']);
    expect(unknown('histogram_quantile(0.99, sum by (le) (rate(herald_critical_time_seconds[5m])))')).toEqual(['herald_critical_time_seconds']);
    expect(unknown('sum by (group) (herald_consumer_lag{topic="orders"}) > 10000')).toEqual([]);
    expect(unknown('rate(herald_critical_time_seconds_bucket[$__rate_interval]) offset 1h')).toEqual([]);
    expect(unknown('sum by (topic) (kafka_topic_partition_under_replicated_partition) > 0')).toEqual([]);
    expect(unknown('sum by (topic) (kafka_topic_under_replicated_partitions) > 0')).toEqual(['kafka_topic_under_replicated_partitions']);
    expect(unknown('kafka_controller_kafkacontroller_offlinepartitionscount > 0')).toEqual(['kafka_controller_kafkacontroller_offlinepartitionscount']);
  });

  it('lists external names only for an exporter the compose file runs, at the image version they were read for', () => {
    const compose = readFileSync(join(DEPLOY, 'docker-compose.yml'), 'utf8');
    for (const exporter of EXTERNAL_EXPORTERS) {
      const block = new RegExp(`\\n  ${exporter.service}:\\n((?: {4}.*\\n|\\n)*)`).exec(compose)?.[1];
      expect(block, exporter.service).toBeDefined();
      expect(/^ {4}image: (\S+)$/m.exec(block!)?.[1], `${exporter.service}: the names were read for ${exporter.image} (${exporter.source})`).toBe(exporter.image);
      expect(Object.keys(exporter.metrics).filter((name) => exposed.has(name)), `${exporter.service}'s names are not Herald's`).toEqual([]);
    }
  });

  it('shows every Herald metric somewhere on a dashboard', () => {
    const shown = new Set(dashboards.flatMap(({ dashboard }) => allPanels(dashboard).flatMap((p) => (p.targets ?? []).flatMap((t) => metricNames(t.expr)))));
    const base = (name: string) => name.replace(/_(bucket|sum|count)$/, '');
    const shownBase = new Set([...shown].map(base));
    const missing = [...Object.values(COUNTERS), ...Object.values(GAUGES), ...Object.values(HISTOGRAMS)].map((spec) => spec.name).filter((name) => !shownBase.has(name));
    expect(missing).toEqual([]);
  });
});

describe('the Grafana dashboards', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'herald-dashboards-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('are valid PromQL: promtool accepts every panel query as a recording rule', async () => {
    const rules = dashboards.flatMap(({ dashboard }) =>
      allPanels(dashboard).flatMap((panel) => (panel.targets ?? []).map((t) => ({ record: `dashboard:${dashboard.uid.replace(/-/g, '_')}:${panel.id}_${t.refId}`, expr: t.expr.replaceAll('$__rate_interval', '5m') }))),
    );
    const file = join(scratch, 'dashboards.yml');
    const yaml = ['groups:', '  - name: dashboards', '    rules:', ...rules.flatMap((r) => [`      - record: ${r.record}`, `        expr: ${JSON.stringify(r.expr)}`])].join('\n');
    writeFileSync(file, yaml + '\n');
    const result = await runTool('promtool', ['check', 'rules', file]);
    expect({ code: result.code, out: result.stdout.trim() }).toEqual({ code: 0, out: expect.stringContaining(`SUCCESS: ${rules.length} rules found`) });

    writeFileSync(file, ['groups:', '  - name: broken', '    rules:', '      - record: broken', '        expr: "sum by (group (herald_consumer_lag)"'].join('\n') + '\n');
    expect((await runTool('promtool', ['check', 'rules', file])).code).not.toBe(0);
  });

  it('use the provisioned data source, unique ids and a 24-column grid without overlaps', () => {
    const datasource = readFileSync(join(DEPLOY, 'grafana', 'provisioning', 'datasources', 'prometheus.yml'), 'utf8');
    const uid = /^\s+uid:\s*(\S+)$/m.exec(datasource)![1];
    expect(new Set(dashboards.map(({ dashboard }) => dashboard.uid)).size).toBe(dashboards.length);
    for (const { dashboard } of dashboards) {
      const panels = allPanels(dashboard);
      expect(new Set(panels.map((p) => p.id)).size, dashboard.title).toBe(panels.length);
      for (const panel of panels) {
        const { x, y, w, h } = panel.gridPos;
        expect(x >= 0 && w > 0 && x + w <= 24 && y >= 0 && h > 0, `${dashboard.title} / ${panel.title}`).toBe(true);
        if (panel.type === 'row') continue;
        expect(panel.datasource?.uid, panel.title).toBe(uid);
        expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
        for (const target of panel.targets!) expect(target.datasource?.uid ?? uid, panel.title).toBe(uid);
      }
      const cells = new Map<string, string>();
      for (const panel of panels) {
        for (let dx = 0; dx < panel.gridPos.w; dx++) {
          for (let dy = 0; dy < panel.gridPos.h; dy++) {
            const cell = `${panel.gridPos.x + dx},${panel.gridPos.y + dy}`;
            expect(cells.get(cell), `${dashboard.title}: ${panel.title} overlaps ${cells.get(cell)}`).toBeUndefined();
            cells.set(cell, panel.title);
          }
        }
      }
    }
  });

  it('give the Herald overview its panels: published vs handled, lag, outbox, retries, dead letters, p50/p99, critical time, streams, the Kafka cluster', () => {
    const overview = byUid('herald-overview');
    const queries = allPanels(overview).flatMap((p) => (p.targets ?? []).map((t) => t.expr)).join('\n');
    for (const needle of [
      'herald_events_published_total',
      'herald_events_handled_total',
      'herald_consumer_lag',
      'herald_outbox_pending',
      'herald_outbox_oldest_pending_age_seconds',
      'herald_handler_retries_total',
      'herald_dead_letters',
      'histogram_quantile(0.5, sum by (le, group) (rate(herald_handler_duration_seconds_bucket',
      'histogram_quantile(0.99, sum by (le, group) (rate(herald_handler_duration_seconds_bucket',
      'herald_critical_time_seconds_bucket',
      'herald_stream_results_total',
      'herald_stream_late_records_total',
      'max by (group, aggregation, partition) (herald_stream_time_lag_seconds)',
      'herald_stream_punctuation_failures_total',
      'kafka_brokers',
      'sum by (topic) (kafka_topic_partition_under_replicated_partition)',
      'count by (topic) (kafka_topic_partition_replicas unless kafka_topic_partition_leader)',
    ]) {
      expect(queries, needle).toContain(needle);
    }
  });

  it('give ticket-orders its E2E Order Flow with seed 003\'s two panels', () => {
    const flow = byUid('ticket-orders-e2e-order-flow');
    expect(flow.title).toBe('E2E Order Flow');
    const published = allPanels(flow).find((p) => p.title === 'Flow: Published vs Processed')!;
    expect(published.targets!.map((t) => t.expr)).toEqual([expect.stringContaining('herald_events_relayed_total'), expect.stringContaining('herald_events_handled_total{outcome="applied"}')]);
    const chaos = allPanels(flow).find((p) => p.title === 'Chaos: Simulated Failures')!;
    expect(chaos.targets![0]!.expr).toContain('herald_relay_failures_total{cause="chaos"}');
    // side by side, as in the seed: published on the left, chaos on the right
    expect([published.gridPos.x, chaos.gridPos.x, chaos.gridPos.y]).toEqual([0, 12, published.gridPos.y]);
  });
});

function byUid(uid: string): Dashboard {
  const found = dashboards.find(({ dashboard }) => dashboard.uid === uid);
  expect(found, uid).toBeDefined();
  return found!.dashboard;
}
