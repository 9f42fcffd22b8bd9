import type * as grpc from '@grpc/grpc-js';
import { HeraldError, type Logger } from '@herald/core';
import type { AnalyticsStore } from '@herald/analytics';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { PipelineErrors } from '../src/errors.js';
import { createIngestChecks, envelopeIdOf, maxFutureSkewOf, SAMPLE_MAX_FUTURE_SKEW_MS } from '../src/ingest.js';
import { createQueries } from '../src/queries.js';
import { unary } from '../src/grpc/server.js';
import { fieldOf } from '../src/grpc/status.js';
import { textIssues } from '../src/text.js';

describe('loadConfig', () => {
  it("uses seed 001's ports and runs the three services in one process by default, on DuckDB", () => {
    const config = loadConfig({}, []);
    expect(config.services).toEqual(['producer', 'consumer', 'analytics']);
    expect(config.ports).toEqual({ producerHttp: 8081, producerGrpc: 50051, consumerHttp: 8082, analyticsHttp: 8083, analyticsGrpc: 50053 });
    expect([config.host, config.graceMs, config.idleTimeoutMs, config.analyticsStore]).toEqual(['127.0.0.1', 10_000, 30_000, 'duckdb']);
    // Kafka's default retention.ms: the log holds the raw events as long
    expect(config.analyticsRetentionMs).toBe(7 * 86_400_000);
    expect(config.runtime).toMatchObject({ retry: { maxAttempts: 5, initialDelayMs: 200, maxDelayMs: 10_000 }, shutdownDeadlineMs: 10_000, metricsPollIntervalMs: 10_000, logLevel: 'info' });
  });

  it('picks the services from --service or HERALD_SERVICE, and the analytics store they can share', () => {
    expect(loadConfig({}, ['--service', 'producer']).services).toEqual(['producer']);
    expect(loadConfig({ HERALD_SERVICE: 'consumer-service,analytics' }, []).services).toEqual(['consumer', 'analytics']);
    expect(loadConfig({}, ['--service=consumer']).analyticsStore).toBe('sqlite');
    expect(loadConfig({ DATABASE_URL: 'postgres://db/x' }, []).analyticsStore).toBe('postgres');
    expect(loadConfig({ ANALYTICS_STORE: 'sqlite' }, []).analyticsStore).toBe('sqlite');
  });

  it('refuses bad values naming the variable', () => {
    expect(() => loadConfig({}, ['--service', 'relay'])).toThrow(/unknown service "relay"/);
    expect(() => loadConfig({ PRODUCER_HTTP_PORT: '70000' }, [])).toThrow(/PRODUCER_HTTP_PORT/);
    expect(() => loadConfig({ STREAM_GRACE_MS: '-1' }, [])).toThrow(/STREAM_GRACE_MS/);
    expect(() => loadConfig({ ANALYTICS_STORE: 'postgres' }, [])).toThrow(/DATABASE_URL/);
    expect(() => loadConfig({ ANALYTICS_STORE: 'clickhouse' }, [])).toThrow(/ANALYTICS_STORE/);
    expect(() => loadConfig({ HERALD_RETRY_MAX_ATTEMPTS: '0' }, [])).toThrow(/HERALD_RETRY_MAX_ATTEMPTS/);
  });

  it('reads ANALYTICS_RETENTION_MS, at least an hour more than STREAM_GRACE_MS, refusing anything else naming it', () => {
    expect(loadConfig({ ANALYTICS_RETENTION_MS: '2592000000' }, []).analyticsRetentionMs).toBe(30 * 86_400_000);
    expect(loadConfig({ ANALYTICS_RETENTION_MS: '3600000', STREAM_GRACE_MS: '0' }, []).analyticsRetentionMs).toBe(3_600_000);
    for (const bad of ['0', '-1', '1.5', '7d', '1e9', String(36_501 * 86_400_000)]) {
      expect(() => loadConfig({ ANALYTICS_RETENTION_MS: bad }, []), bad).toThrow(/ANALYTICS_RETENTION_MS must be an integer/);
    }
    // a minute is stored once its grace is over: an hour and no more would delete it within the hour
    expect(() => loadConfig({ ANALYTICS_RETENTION_MS: '3600000' }, [])).toThrow(/ANALYTICS_RETENTION_MS \(3600000\) must be at least an hour more than STREAM_GRACE_MS \(10000\)/);
  });
});

describe('ids and field paths', () => {
  it('gives one event id one envelope id (a UUID), and different ids different ones', () => {
    expect(envelopeIdOf('e-1')).toBe(envelopeIdOf('e-1'));
    expect(envelopeIdOf('e-1')).not.toBe(envelopeIdOf('e-2'));
    expect(envelopeIdOf('e-1')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('names fields as google.rpc.BadRequest does', () => {
    expect(fieldOf('/events/3/timestamp')).toBe('events[3].timestamp');
    expect(fieldOf('/userId')).toBe('userId');
    expect(fieldOf('')).toBe('');
  });
});

describe('event times and query ranges', () => {
  const now = Date.UTC(2026, 11, 7, 12, 0, 0);
  const graceMs = loadConfig({}, []).graceMs;
  const checks = createIngestChecks({ maxFutureSkewMs: maxFutureSkewOf(graceMs), now: () => now });
  const event = (timestamp: string) => ({ userId: 'u', type: 'click', timestamp, properties: {} });
  const at = (ms: number) => new Date(ms).toISOString();

  it("takes an event time at most the stream's grace ahead of the clock: further, one fast client would make its partition late", () => {
    expect(maxFutureSkewOf(graceMs)).toBe(graceMs);
    expect(checks.eventIssues(event(at(now + graceMs)))).toEqual([]);
    expect(checks.eventIssues(event(at(now - 86_400_000)))).toEqual([]);
    // the review's client, 4 minutes fast: taken, it made every event of its partition late for 4 minutes
    for (const ahead of [graceMs + 1, 4 * 60_000]) {
      expect(checks.eventIssues(event(at(now + ahead)))).toEqual([{ path: '/timestamp', message: "must be at most 10 s ahead of the server's clock (is the client's clock right?)" }]);
    }
    expect(checks.eventRuleIssues(event('2099-01-01T00:00:00Z'))).toHaveLength(1);
    // the batch check (HTTP and gRPC) names the event
    expect(checks.eventIssues(event('2099-01-01T00:00:00Z'), '/events/2')).toEqual([{ path: '/events/2/timestamp', message: expect.stringContaining('ahead') }]);
    // metric samples are not windowed by the stream: only a plainly wrong clock is refused
    const sample = (ms: number) => ({ name: 'cpu', value: 1, timestamp: at(ms), labels: {} });
    expect(checks.metricIssues(sample(now + SAMPLE_MAX_FUTURE_SKEW_MS))).toEqual([]);
    expect(checks.metricIssues(sample(now + SAMPLE_MAX_FUTURE_SKEW_MS + 1))).toHaveLength(1);
  });

  it('takes a metric value within ±1e100, what the analytics store keeps, and refuses a larger one with its path', () => {
    const sample = (value: number) => ({ name: 'cpu', value, timestamp: '2026-12-01T12:00:00Z', labels: {} });
    for (const value of [0, -1e100, 1e100, 123.456]) expect(checks.metricIssues(sample(value))).toEqual([]);
    // two samples of 1e308 made every PostgreSQL summary covering them fail
    for (const value of [1e308, -1.7e308, 1.0000000000000002e100]) expect(checks.metricIssues(sample(value)).map((i) => i.path)).toEqual(['/value']);
  });

  it('refuses U+0000 and lone UTF-16 surrogates in any string or key of an event or a metric sample, with its path', () => {
    const properties = { page: 'a\u0000b', nested: { 'k\u0000': 1, list: ['ok', 'x\u0000', 'caf\ud83d'], 'cut\udc00': 'v' }, whole: 'caf\ud83d\ude00' };
    const valid = { userId: 'u', type: 'page_view', timestamp: '2026-12-01T12:00:00Z' };
    expect(checks.eventIssues({ ...valid, properties }, '/events/0')).toEqual([
      { path: '/events/0/properties/page', message: 'must not contain U+0000 (NUL)' },
      { path: '/events/0/properties/nested/k\u0000', message: 'the key must not contain U+0000 (NUL)' },
      { path: '/events/0/properties/nested/list/1', message: 'must not contain U+0000 (NUL)' },
      { path: '/events/0/properties/nested/list/2', message: expect.stringContaining('lone UTF-16 surrogate') },
      { path: '/events/0/properties/nested/cut\udc00', message: expect.stringMatching(/^the key must not contain a lone UTF-16 surrogate/) },
    ]);
    expect(checks.eventIssues({ ...valid, userId: 'u\u0000', properties: {} }).map((i) => i.path)).toEqual(['/userId']);
    // two different halves would hash to one envelope id (UTF-8 makes both U+FFFD): one event counted, the other dropped
    expect(envelopeIdOf('a\ud800')).toBe(envelopeIdOf('a\udfff'));
    expect(checks.eventIssues({ ...valid, eventId: 'a\ud800', userId: '\udfff', type: 'cl\ud800ick', properties: {} }).map((i) => i.path)).toEqual(['/userId', '/type', '/eventId']);
    expect(checks.metricIssues({ name: 'cpu', value: 1, timestamp: '2026-12-01T12:00:00Z', labels: { host: 'a/\u0000', ['\ud800']: 'x' } }).map((i) => i.path)).toEqual(['/labels/host', '/labels/\ud800']);
    expect(checks.eventIssues({ ...valid, properties: { page: 'fine \ud83d\ude00' } }, '')).toEqual([]);
  });

  it('checks a value nested far deeper than any stack, and lists at most 20 issues', () => {
    let deep: Record<string, unknown> = { bad: 'x\u0000' };
    for (let i = 0; i < 200_000; i++) deep = { a: deep };
    const issues = textIssues(deep, '/properties');
    expect(issues).toHaveLength(1);
    expect(issues[0]!.path).toMatch(/^\/properties(\/a){200000}\/bad$/);
    expect(textIssues({ list: Array.from({ length: 1000 }, () => '\ud800') }, '')).toHaveLength(20);
  });

  it('refuses a leap second saying so, in events, samples and query ranges (Date cannot represent it)', async () => {
    const leap = '2016-12-31T23:59:60Z';
    const why = expect.stringMatching(/^must not be a leap second/);
    expect(checks.eventIssues(event(leap))).toEqual([{ path: '/timestamp', message: why }]);
    expect(checks.metricIssues({ name: 'cpu', value: 1, timestamp: '2016-12-31t23:59:60.5z', labels: {} })).toEqual([{ path: '/timestamp', message: why }]);
    const queries = createQueries({ store: {} as never, windows: {} as never, graceMs: 0, retentionMs: 86_400_000 });
    await expect(queries.counts({ from: leap, to: '2017-01-01T00:00:00Z' })).rejects.toMatchObject({ code: 'invalid-query', message: expect.stringContaining('from must not be a leap second') });
    expect(checks.eventIssues(event('1969-12-31T23:59:59Z'))).toEqual([{ path: '/timestamp', message: 'must be at or after 1970-01-01T00:00:00Z' }]);
  });

  it('refuses a query range naming a date that does not exist, instead of rolling it over', async () => {
    const queries = createQueries({ store: {} as never, windows: {} as never, graceMs: 0, retentionMs: 86_400_000 });
    for (const from of ['2026-02-30T00:00:00Z', '2026-01-01T24:00:00Z', '2026-13-01T00:00:00Z', '2026-01-01']) {
      await expect(queries.counts({ from, to: '2026-03-05T00:00:00Z' }), from).rejects.toMatchObject({ code: 'invalid-query' });
    }
  });

  it('answers whole windows: a range off the window boundaries is widened to them, and the answer says so', async () => {
    const H = Date.UTC(2026, 11, 5, 7, 0, 0);
    const asked: { what: string; from: number; to: number; windowMs: number }[] = [];
    // a store answering one window at the start of whatever range it is asked for
    const store = {
      counts: async (q: { from: number; to: number; windowMs: number }) => (asked.push({ what: 'counts', ...q }), [{ windowStart: q.from, windowEnd: q.from + q.windowMs, count: 1, uniqueUsers: 1 }]),
      metricSummary: async (q: { from: number; to: number; windowMs: number }) => (
        asked.push({ what: 'metricSummary', ...q }), [{ windowStart: q.from, windowEnd: q.from + q.windowMs, count: 1, min: 1, max: 1, avg: 1, p95: 1 }]
      ),
    } as unknown as AnalyticsStore;
    const windows = { partitions: async () => [{ partition: 0, streamTime: H + 10 * 3_600_000, late: 0 }], read: async () => ({ partitions: [], windows: [] }) };
    const queries = createQueries({ store, windows, graceMs: 0, retentionMs: 86_400_000, now: () => H + 10 * 3_600_000 });
    // the README's demo: 07:50 to 08:01 by the hour was the hour 07:00-08:00 counting 07:50-08:00 only
    const range = { from: new Date(H + 50 * 60_000).toISOString(), to: new Date(H + 61 * 60_000).toISOString() };
    const counts = await queries.counts({ ...range, window: '1h' });
    expect(counts).toEqual({ from: '2026-12-05T07:00:00.000Z', to: '2026-12-05T09:00:00.000Z', series: [{ windowStart: '2026-12-05T07:00:00.000Z', windowEnd: '2026-12-05T08:00:00.000Z', count: 1, uniqueUsers: 1 }] });
    const summary = await queries.metricSummary({ ...range, name: 'm', window: '5m' });
    expect([summary.from, summary.to]).toEqual(['2026-12-05T07:50:00.000Z', '2026-12-05T08:05:00.000Z']);
    // on the boundaries already: asked as given
    await queries.counts({ from: '2026-12-05T07:00:00Z', to: '2026-12-05T08:00:00Z', window: '1m' });
    expect(asked.map((q) => [q.what, q.from - H, q.to - H, q.windowMs])).toEqual([
      ['counts', 0, 2 * 3_600_000, 3_600_000],
      ['metricSummary', 50 * 60_000, 65 * 60_000, 300_000],
      ['counts', 0, 3_600_000, 60_000],
    ]);
  });
});

describe('ranges and retention', () => {
  it('answers only what retention keeps, whenever the store was last swept: a range reaching back past it starts at the first whole window inside it, and says so', async () => {
    const NOW = Date.UTC(2026, 11, 7, 12, 34, 56, 789);
    const HOUR = 3_600_000;
    const asked: [string, number, number][] = [];
    // a store answering nothing, recording the ranges it is asked for
    const store = {
      counts: async (q: { from: number; to: number }) => (asked.push(['counts', q.from, q.to]), []),
      metricSummary: async (q: { from: number; to: number }) => (asked.push(['metricSummary', q.from, q.to]), []),
      topTypes: async (q: { from: number; to: number }) => (asked.push(['topTypes', q.from, q.to]), []),
      late: async (q: { from: number; to: number }) => (asked.push(['late', q.from, q.to]), []),
    } as unknown as AnalyticsStore;
    const windows = { partitions: async () => [{ partition: 0, streamTime: NOW, late: 0 }], read: async () => ({ partitions: [], windows: [] }) };
    const queries = createQueries({ store, windows, graceMs: 0, retentionMs: 2 * HOUR, now: () => NOW });
    const iso = (ms: number) => new Date(ms).toISOString();
    const day = { from: iso(NOW - 24 * HOUR), to: iso(NOW) };
    // kept from 10:34:56.789: the first whole hour is 11:00, the first whole minute 10:35
    expect(await queries.counts({ ...day, window: '1h' })).toEqual({ from: '2026-12-07T11:00:00.000Z', to: '2026-12-07T13:00:00.000Z', series: [] });
    expect(await queries.metricSummary({ ...day, name: 'm', window: '1m' })).toMatchObject({ from: '2026-12-07T10:35:00.000Z', to: '2026-12-07T12:35:00.000Z' });
    expect(await queries.late(day)).toMatchObject({ from: '2026-12-07T10:35:00.000Z' });
    await queries.topTypes(day);
    // inside the retention: as asked (widened to whole windows); wholly past it: nothing
    await queries.counts({ from: iso(NOW - HOUR), to: iso(NOW), window: '5m' });
    expect(await queries.counts({ from: iso(NOW - 5 * HOUR), to: iso(NOW - 3 * HOUR), window: '1m' })).toEqual({ from: '2026-12-07T09:35:00.000Z', to: '2026-12-07T09:35:00.000Z', series: [] });
    expect(asked.map(([what, from, to]) => [what, iso(from), iso(to)])).toEqual([
      ['counts', '2026-12-07T11:00:00.000Z', '2026-12-07T13:00:00.000Z'],
      ['metricSummary', '2026-12-07T10:35:00.000Z', '2026-12-07T12:35:00.000Z'],
      ['late', '2026-12-07T10:35:00.000Z', '2026-12-07T12:35:00.000Z'],
      ['topTypes', '2026-12-07T10:34:56.789Z', '2026-12-07T12:34:56.789Z'],
      ['counts', '2026-12-07T11:30:00.000Z', '2026-12-07T12:35:00.000Z'],
      ['counts', '2026-12-07T09:35:00.000Z', '2026-12-07T09:35:00.000Z'],
    ]);
  });
});

describe('the gRPC servers', () => {
  const failing = (thrown: unknown) => {
    const logged: { message: string; fields?: Record<string, unknown> }[] = [];
    const completed: typeof logged = [];
    const counted: string[] = [];
    const logger = {
      error: (message: string, fields?: Record<string, unknown>) => logged.push({ message, ...(fields ? { fields } : {}) }),
      info: (message: string, fields?: Record<string, unknown>) => completed.push({ message, ...(fields ? { fields } : {}) }),
    } as unknown as Logger;
    const handler = unary(() => Promise.reject(thrown), { onCall: (call) => counted.push(call.code), logger });
    return new Promise<{ status: Partial<grpc.ServiceError>; logged: typeof logged; completed: typeof logged; counted: string[] }>((resolve) => {
      const call = { request: {}, getPath: () => '/herald.analytics.v1.Analytics/Counts' } as unknown as grpc.ServerUnaryCall<unknown, unknown>;
      handler(call, ((status: Partial<grpc.ServiceError>) => resolve({ status, logged, completed, counted })) as grpc.sendUnaryData<unknown>);
    });
  };

  it('log every call, and a call that failed unexpectedly (INTERNAL, its cause not sent) with its error; count each by its status', async () => {
    const bug = new TypeError("Cannot read properties of undefined (reading 'series')");
    const unexpected = await failing(bug);
    expect([unexpected.status.code, unexpected.status.details, unexpected.counted]).toEqual([13, 'internal error', ['INTERNAL']]);
    expect(unexpected.logged).toEqual([{ message: 'gRPC call failed unexpectedly', fields: { method: '/herald.analytics.v1.Analytics/Counts', status: 'INTERNAL', error: bug } }]);
    const refusal = await failing(new HeraldError(PipelineErrors.invalidQuery, 'window must be one of 1m, 5m, 1h'));
    expect([refusal.status.code, refusal.counted, refusal.logged]).toEqual([3, ['INVALID_ARGUMENT'], []]);
    // each call, refused or not, is one `gRPC call completed` line, as HTTP's `request completed`
    const line = (code: string) => ({ message: 'gRPC call completed', fields: { method: '/herald.analytics.v1.Analytics/Counts', type: 'unary', code, durationMs: expect.any(Number) } });
    expect([...unexpected.completed, ...refusal.completed]).toEqual([line('INTERNAL'), line('INVALID_ARGUMENT')]);
  });
});
