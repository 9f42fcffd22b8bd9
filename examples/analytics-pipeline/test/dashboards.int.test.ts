import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTool } from '../../../packages/metrics/test/support/tools.js';
import { exposedNames, PROMETHEUS_NAMES } from '../../../test/monitoring/exposed.js';
import { allPanels, filesIn, metricNames, readDashboard } from '../../../test/monitoring/promql.js';
import { SEED_METRICS } from '../src/seedMetrics.js';
import type { AnalyticsPipeline, PipelineUrls } from '../src/system.js';
import { eventually, httpBatch, send } from './support/client.js';
import { call, grpcClients } from './support/grpcClient.js';
import { EXAMPLE_DIR } from './support/processes.js';
import { startInProcess, tempDataDir } from './support/inProcess.js';
import { buildScenario, RANGE } from './support/scenario.js';

const dashboards = filesIn(join(EXAMPLE_DIR, 'dashboards'), '.json').map((file) => readDashboard(file));
const queries = dashboards.flatMap((d) => allPanels(d).flatMap((p) => (p.targets ?? []).map((t) => ({ where: `${d.title} / ${p.title} / ${t.refId}`, expr: t.expr, record: `dashboard:${d.uid.replace(/-/g, '_')}:${p.id}_${t.refId}` }))));

/**
 * Seed 001's three dashboards query only what the pipeline exposes: the pipeline runs (events in,
 * a dead letter, an HTTP and a gRPC error, lag read) and its scrape is compared with every
 * metric name of every panel; promtool accepts every query.
 */
describe("analytics-pipeline's dashboards", () => {
  const data = tempDataDir('analytics-dashboards');
  let system: AnalyticsPipeline | undefined;
  let urls: PipelineUrls = {};
  let exposed = new Set<string>();
  beforeAll(async () => {
    ({ system, urls } = await startInProcess(data.dir));
    const clients = grpcClients(urls.producerGrpc!, urls.analyticsGrpc!);
    try {
      const scenario = buildScenario('dash');
      // slice 1 holds events the consumer dead-letters
      await httpBatch(urls.producerHttp!).send(scenario.slices[1]!);
      expect((await send(`${urls.producerHttp}/v1/metrics`, { body: scenario.metrics[0] })).status).toBe(202);
      expect((await send(`${urls.producerHttp}/v1/events`, { body: {} })).status).toBe(422);
      await expect(call(clients.analytics, 'User', { userId: 'nobody' })).rejects.toMatchObject({ code: 5 });
      expect((await send(`${urls.analyticsHttp}/v1/analytics/counts?from=${RANGE.from}&to=${RANGE.to}&window=1m`)).status).toBe(200);
      exposed = await eventually(
        async () => {
          await system!.metrics.poll();
          const body = (await system!.metrics.scrape()).body;
          return body.includes(`${SEED_METRICS.eventsProcessed}{group="analytics-stream",outcome="dead-lettered"}`) && body.includes('herald_consumer_lag{') ? exposedNames(body) : undefined;
        },
        30_000,
        () => 'the dead letters counted and the lag read',
      );
    } finally {
      clients.close();
    }
  });
  afterAll(async () => {
    await system?.close();
    data.remove();
  });

  it('are the seed\'s three: Real-Time Analytics, Kafka Metrics, Service Health, each showing its seed metrics', () => {
    expect(dashboards.map((d) => d.title).sort()).toEqual(['Kafka Metrics', 'Real-Time Analytics', 'Service Health']);
    const shown = new Set(queries.flatMap((q) => metricNames(q.expr)).map((name) => name.replace(/_(bucket|sum|count)$/, '')));
    expect(Object.values(SEED_METRICS).filter((name) => !shown.has(name))).toEqual([]);
  });

  it('query only metric names the pipeline exposes (the check can fail)', () => {
    const unknown = (expr: string) => metricNames(expr).filter((name) => !exposed.has(name) && !PROMETHEUS_NAMES.has(name));
    expect(queries.length).toBeGreaterThan(15);
    expect(queries.flatMap((q) => unknown(q.expr).map((name) => `${q.where}: ${name}`))).toEqual([]);
    expect(unknown('sum(rate(events_procesed_total[5m]))')).toEqual(['events_procesed_total']);
    expect(unknown('histogram_quantile(0.99, sum by (le) (rate(event_processing_duration_seconds[5m])))')).toEqual(['event_processing_duration_seconds']);
  });

  it('are valid PromQL on a 24-column grid, with unique ids, on the provisioned data source', async () => {
    const scratch = mkdtempSync(join(tmpdir(), 'herald-analytics-dashboards-'));
    try {
      const file = join(scratch, 'dashboards.yml');
      const yaml = ['groups:', '  - name: dashboards', '    rules:', ...queries.flatMap((q) => [`      - record: ${q.record}`, `        expr: ${JSON.stringify(q.expr.replaceAll('$__rate_interval', '5m'))}`])];
      writeFileSync(file, yaml.join('\n') + '\n');
      const result = await runTool('promtool', ['check', 'rules', file]);
      expect({ code: result.code, out: result.stdout.trim() }).toEqual({ code: 0, out: expect.stringContaining(`SUCCESS: ${queries.length} rules found`) });
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
    expect(new Set(dashboards.map((d) => d.uid)).size).toBe(3);
    for (const dashboard of dashboards) {
      const panels = allPanels(dashboard);
      expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
      const cells = new Set<string>();
      for (const { gridPos: { x, y, w, h }, datasource, title } of panels) {
        expect(x >= 0 && w > 0 && x + w <= 24 && y >= 0 && h > 0, title).toBe(true);
        expect(datasource?.uid, title).toBe('prometheus');
        for (let dx = 0; dx < w; dx++) for (let dy = 0; dy < h; dy++) expect(cells.has(`${x + dx},${y + dy}`), `${title} overlaps`).toBe(false);
        for (let dx = 0; dx < w; dx++) for (let dy = 0; dy < h; dy++) cells.add(`${x + dx},${y + dy}`);
      }
    }
  });
});
