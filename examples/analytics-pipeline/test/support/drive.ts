import { isDeepStrictEqual } from 'node:util';
import { expect } from 'vitest';
import { eventually, pool, postMetrics, send, type EventSender } from './client.js';
import { BASE, expectedCounts, expectedLate, expectedSummary, expectedTopTypes, expectedUser, RANGE, type Scenario, type SentEvent, type SentMetric } from './scenario.js';

/** Splits events over the senders in turn, in chunks of up to `chunk` events. */
function spread(events: readonly SentEvent[], senders: readonly EventSender[], chunk: number): { sender: EventSender; events: SentEvent[] }[] {
  const parts: { sender: EventSender; events: SentEvent[] }[] = [];
  for (let i = 0, turn = 0; i < events.length; turn++) {
    const size = 1 + (turn % chunk);
    parts.push({ sender: senders[turn % senders.length]!, events: events.slice(i, i + size) });
    i += size;
  }
  return parts;
}

/**
 * Sends the scenario through the producer: each slice over every sender (8 requests in flight),
 * acknowledged before the next slice; the producer's refusals (each checked: 422 problem+json,
 * the batch's invalid events listed by index); the late events, the metric samples, the flush.
 */
export async function sendScenario(
  producerUrl: string,
  senders: readonly EventSender[],
  scenario: Scenario,
  options: {
    readonly afterSlice?: (index: number) => Promise<void>;
    /** Sends half the metric samples another way (gRPC's RecordMetric); all go over HTTP without it. */
    readonly recordMetric?: (metric: SentMetric) => Promise<void>;
  } = {},
): Promise<void> {
  for (const [index, slice] of scenario.slices.entries()) {
    await pool(spread(slice, senders, 6), 8, ({ sender, events }) => sender.send(events));
    await options.afterSlice?.(index);
  }
  for (const event of scenario.refused) {
    const answer = await send(`${producerUrl}/v1/events`, { body: event });
    expect(answer.status).toBe(422);
    expect(answer.contentType).toBe('application/problem+json');
    expect((answer.body as { code: string }).code).toBe('schema-violation');
  }
  const batch = await send(`${producerUrl}/v1/events:batch`, { body: { events: scenario.refusedBatch.events } });
  expect(batch.status).toBe(422);
  expect(batch.contentType).toBe('application/problem+json');
  const listed = (batch.body as { errors: { path: string }[] }).errors.map((e) => Number(e.path.split('/')[2]));
  expect([...new Set(listed)]).toEqual(scenario.refusedBatch.invalidIndices);
  await pool(spread(scenario.late, senders, 3), 4, ({ sender, events }) => sender.send(events));
  await postMetrics(producerUrl, scenario.metrics, options.recordMetric);
  await pool(spread(scenario.flush, senders, 6), 4, ({ sender, events }) => sender.send(events));
}

/** How a test asks the analytics service (HTTP or gRPC); answers in the HTTP contract's JSON shape. */
export interface QueryClient {
  counts(query: { from: string; to: string; window: string; type?: string }): Promise<unknown>;
  user(userId: string): Promise<unknown>;
  topTypes(query: { from: string; to: string; limit: number }): Promise<unknown>;
  metricSummary(name: string, query: { from: string; to: string; window: string }): Promise<unknown>;
  late(query: { from: string; to: string }): Promise<unknown>;
}

/** The HTTP query client; any answer but 200 fails. */
export function httpQueries(analyticsUrl: string): QueryClient {
  const get = async (path: string, query: Record<string, string | number | undefined> = {}) => {
    const params = new URLSearchParams(Object.entries(query).flatMap(([k, v]) => (v === undefined ? [] : [[k, String(v)] as [string, string]])));
    const answer = await send(`${analyticsUrl}${path}?${params}`);
    if (answer.status !== 200) throw new Error(`GET ${path}: ${answer.status} ${JSON.stringify(answer.body)}`);
    return answer.body;
  };
  return {
    counts: (q) => get('/v1/analytics/counts', q),
    user: (userId) => get(`/v1/analytics/users/${encodeURIComponent(userId)}`),
    topTypes: (q) => get('/v1/analytics/top-types', q),
    metricSummary: (name, q) => get(`/v1/metrics/${encodeURIComponent(name)}/summary`, q),
    late: (q) => get('/v1/analytics/late', q),
  };
}

/**
 * Waits until the hourly counts (the last windows to become final) and the metric samples are
 * all in, then checks every query against what the scenario computes: counts for each window
 * size, all types and per type; every user; top types; late events; metric summaries.
 */
export async function verifyQueries(queries: QueryClient, scenario: Scenario, timeoutMs = 60_000): Promise<void> {
  const hourly = expectedCounts(scenario, 3_600_000);
  // samples counted per hour (avg and p95 are compared below, rounded)
  const metricsIn = expectedSummary(scenario, 'cart_size', 3_600_000).series.map((w) => w.count);
  let last: unknown;
  await eventually(
    async () => {
      const [counts, summary, late] = await Promise.all([
        queries.counts({ ...RANGE, window: '1h' }),
        queries.metricSummary('cart_size', { ...RANGE, window: '1h' }).then((answer) => (answer as { series: { count: number }[] }).series.map((w) => w.count)),
        queries.late(RANGE),
      ]);
      last = { counts, summary, late };
      return isDeepStrictEqual(counts, hourly) && isDeepStrictEqual(summary, metricsIn) && isDeepStrictEqual(late, expectedLate(scenario)) ? true : undefined;
    },
    timeoutMs,
    () => `the final hourly counts, metric samples and late events; last answers ${JSON.stringify(last)}, expected ${JSON.stringify({ hourly, metricsIn, late: expectedLate(scenario) })}`,
  );
  for (const window of ['1m', '5m', '1h'] as const) {
    const size = { '1m': 60_000, '5m': 300_000, '1h': 3_600_000 }[window];
    expect(await queries.counts({ ...RANGE, window })).toEqual(expectedCounts(scenario, size));
    for (const type of ['purchase', 'click', 'teleport']) expect(await queries.counts({ ...RANGE, window, type })).toEqual(expectedCounts(scenario, size, type));
  }
  const users = new Set([...scenario.fates.values()].filter((f) => f.fate === 'counted').map((f) => f.event.userId));
  for (const user of users) expect(await queries.user(user)).toEqual(expectedUser(scenario, user));
  expect(await queries.topTypes({ ...RANGE, limit: 10 })).toEqual(expectedTopTypes(scenario, Date.parse(RANGE.from), Date.parse(RANGE.to), 10));
  expect(await queries.topTypes({ from: new Date(BASE).toISOString(), to: new Date(BASE + 300_000).toISOString(), limit: 3 })).toEqual(
    expectedTopTypes(scenario, BASE, BASE + 300_000, 3),
  );
  expect(await queries.late(RANGE)).toEqual(expectedLate(scenario));
  // only the minutes starting in a range (widened to whole minutes): late events only accumulate
  const some = { from: new Date(BASE + 2 * 60_000 + 30_000).toISOString(), to: new Date(BASE + 4 * 60_000).toISOString() };
  const wanted = expectedLate(scenario, { from: BASE + 2 * 60_000, to: BASE + 4 * 60_000 });
  expect(wanted.late.length).toBeGreaterThan(0);
  expect(wanted.late.length).toBeLessThan(expectedLate(scenario).late.length);
  expect(await queries.late(some)).toEqual(wanted);
  for (const name of ['cart_size', 'checkout_latency_ms']) {
    for (const window of ['1m', '5m'] as const) {
      const actual = (await queries.metricSummary(name, { ...RANGE, window })) as { from: string; to: string; series: { p95: number; avg: number }[] };
      const expected = expectedSummary(scenario, name, window === '1m' ? 60_000 : 300_000);
      // the database interpolates the percentile and divides the sum with its own float operations
      const rounded = (answer: typeof actual) => ({ ...answer, series: answer.series.map((w) => ({ ...w, p95: round(w.p95), avg: round(w.avg) })) });
      expect(rounded(actual)).toEqual(rounded(expected));
    }
  }
}

const round = (x: number) => Math.round(x * 1e6) / 1e6;
