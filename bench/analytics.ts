// npm run bench -- --analytics [1000000]: the analytics store's candidates for the embedded default
// (SQLite and DuckDB, each on a file) on seed 001's queries over a generated day of events.
// Each store gets the same events (in append calls of 1,000, as a consumer's batches would), then
// each query runs REPEAT times; the table gives the ingest rate and the median time per query.
import { mkdtempSync, rmSync, statSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { duckdbAnalytics, sqliteAnalytics, type AnalyticsEvent, type AnalyticsStore, type MetricPoint } from '@herald/analytics';

const EVENTS = Number(process.argv[2] ?? 1_000_000);
const METRICS = Math.round(EVENTS / 5);
const USERS = 10_000;
const TYPES = Array.from({ length: 20 }, (_, i) => `type_${String(i).padStart(2, '0')}`);
const DAY = 24 * 60 * 60 * 1000;
const T0 = Date.UTC(2026, 11, 1);
const BATCH = 1000;
const REPEAT = 5;

/** A deterministic generator, so both stores get exactly the same day. */
function generator(seed: number): () => number {
  let state = seed;
  return () => (state = (state * 48_271) % 2_147_483_647) / 2_147_483_647;
}

function eventsBatch(random: () => number, from: number, count: number): AnalyticsEvent[] {
  return Array.from({ length: count }, (_, j) => {
    const i = from + j;
    // skewed: low type numbers and low user numbers are commoner, as real traffic is
    const type = TYPES[Math.floor(random() ** 2 * TYPES.length)]!;
    return { eventId: `e${i}`, userId: `u${Math.floor(random() ** 1.5 * USERS)}`, type, occurredAt: T0 + Math.floor(random() * DAY), properties: { page: `/p/${i % 97}`, value: i % 13 } };
  });
}

function metricsBatch(random: () => number, from: number, count: number): MetricPoint[] {
  return Array.from({ length: count }, (_, j) => ({ pointId: `m${from + j}`, name: (from + j) % 2 === 0 ? 'latency_ms' : 'cart_value', value: Math.round(random() * 100_000) / 100, occurredAt: T0 + Math.floor(random() * DAY), labels: { service: 'api' } }));
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function measure(kind: string, open: (dir: string) => Promise<AnalyticsStore>): Promise<Record<string, string | number>> {
  const dir = mkdtempSync(join(tmpdir(), `herald-analytics-${kind}-`));
  const store = await open(dir);
  try {
    const random = generator(42);
    let started = performance.now();
    for (let i = 0; i < EVENTS; i += BATCH) await store.appendEvents(eventsBatch(random, i, Math.min(BATCH, EVENTS - i)));
    const ingestEvents = EVENTS / ((performance.now() - started) / 1000);
    started = performance.now();
    for (let i = 0; i < METRICS; i += BATCH) await store.appendMetrics(metricsBatch(random, i, Math.min(BATCH, METRICS - i)));
    const ingestMetrics = METRICS / ((performance.now() - started) / 1000);
    const bytes = readdirSync(dir).reduce((sum, f) => sum + statSync(join(dir, f)).size, 0);

    const queries: Record<string, () => Promise<unknown>> = {
      'counts 5m, whole day': () => store.counts({ from: T0, to: T0 + DAY, windowMs: 5 * 60_000 }),
      'counts 1m of one type, 1 h': () => store.counts({ from: T0 + 12 * 3_600_000, to: T0 + 13 * 3_600_000, windowMs: 60_000, type: 'type_03' }),
      'user summary ×100': async () => {
        for (let u = 0; u < 100; u++) await store.user(`u${u * 97}`);
      },
      'top types, whole day': () => store.topTypes({ from: T0, to: T0 + DAY, limit: 10 }),
      'metric summary 1h (p95), whole day': () => store.metricSummary({ name: 'latency_ms', from: T0, to: T0 + DAY, windowMs: 3_600_000 }),
    };
    const result: Record<string, string | number> = { store: kind, 'ingest events/s': Math.round(ingestEvents), 'ingest metrics/s': Math.round(ingestMetrics), 'file MiB': Math.round(bytes / 2 ** 20) };
    for (const [name, run] of Object.entries(queries)) {
      const times: number[] = [];
      for (let r = 0; r < REPEAT; r++) {
        const t = performance.now();
        await run();
        times.push(performance.now() - t);
      }
      result[`${name} ms`] = Math.round(median(times) * 10) / 10;
    }
    // both must answer the same: a benchmark of wrong answers measures nothing
    result['check'] = JSON.stringify(await store.topTypes({ from: T0, to: T0 + DAY, limit: 3 }));
    return result;
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

process.stderr.write(`analytics stores: ${EVENTS} events and ${METRICS} metric samples over one day, appends of ${BATCH}, each query ${REPEAT} times (median)\n`);
const rows = [await measure('sqlite', async (dir) => sqliteAnalytics({ path: join(dir, 'analytics.db') })), await measure('duckdb', (dir) => duckdbAnalytics({ path: join(dir, 'analytics.duckdb') }))];
if (rows[0]!['check'] !== rows[1]!['check']) throw new Error(`the stores disagree: ${rows[0]!['check']} vs ${rows[1]!['check']}`);
for (const row of rows) delete row['check'];
if (process.argv.includes('--json')) for (const row of rows) process.stdout.write(JSON.stringify(row) + '\n');
else console.table(rows);
