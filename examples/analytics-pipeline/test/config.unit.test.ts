import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { envelopeIdOf, eventIssues, eventRuleIssues, MAX_FUTURE_SKEW_MS, metricIssues } from '../src/ingest.js';
import { createQueries } from '../src/queries.js';
import { fieldOf } from '../src/grpc/status.js';

describe('loadConfig', () => {
  it("uses seed 001's ports and runs the three services in one process by default, on DuckDB", () => {
    const config = loadConfig({}, []);
    expect(config.services).toEqual(['producer', 'consumer', 'analytics']);
    expect(config.ports).toEqual({ producerHttp: 8081, producerGrpc: 50051, consumerHttp: 8082, analyticsHttp: 8083, analyticsGrpc: 50053 });
    expect([config.host, config.graceMs, config.idleTimeoutMs, config.analyticsStore]).toEqual(['127.0.0.1', 10_000, 30_000, 'duckdb']);
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
  it('refuses an event time more than a few minutes ahead of the clock: it would make its partition late for good', () => {
    const now = Date.UTC(2026, 11, 7, 12, 0, 0);
    const at = (ms: number) => ({ timestamp: new Date(ms).toISOString() });
    expect(eventRuleIssues(at(now + MAX_FUTURE_SKEW_MS), now)).toEqual([]);
    expect(eventRuleIssues(at(now - 86_400_000), now)).toEqual([]);
    expect(eventRuleIssues(at(now + MAX_FUTURE_SKEW_MS + 1), now)).toEqual([{ path: '/timestamp', message: expect.stringContaining('ahead') }]);
    expect(eventRuleIssues({ timestamp: '2099-01-01T00:00:00Z' })).toHaveLength(1);
    // the batch check (HTTP and gRPC) names the event
    expect(eventIssues({ userId: 'u', type: 'click', timestamp: '2099-01-01T00:00:00Z', properties: {} }, '/events/2')).toEqual([
      { path: '/events/2/timestamp', message: expect.stringContaining('ahead') },
    ]);
  });

  it('refuses U+0000 in any string or key of an event or a metric sample, with its path', () => {
    const event = { userId: 'u', type: 'page_view', timestamp: '2026-12-01T12:00:00Z', properties: { page: 'a\u0000b', nested: { 'k\u0000': 1, list: ['ok', 'x\u0000'] } } };
    expect(eventIssues(event, '/events/0').map((i) => i.path)).toEqual(['/events/0/properties/page', '/events/0/properties/nested/k\u0000', '/events/0/properties/nested/list/1']);
    expect(eventIssues({ ...event, userId: 'u\u0000', properties: {} }).map((i) => i.path)).toEqual(['/userId']);
    expect(metricIssues({ name: 'cpu', value: 1, timestamp: '2026-12-01T12:00:00Z', labels: { host: 'a/\u0000' } }).map((i) => i.path)).toEqual(['/labels/host']);
    expect(eventIssues({ ...event, properties: { page: 'fine' } }, '')).toEqual([]);
  });

  it('refuses a query range naming a date that does not exist, instead of rolling it over', async () => {
    const queries = createQueries({ store: {} as never, windows: {} as never, graceMs: 0 });
    for (const from of ['2026-02-30T00:00:00Z', '2026-01-01T24:00:00Z', '2026-13-01T00:00:00Z', '2026-01-01']) {
      await expect(queries.counts({ from, to: '2026-03-05T00:00:00Z' }), from).rejects.toMatchObject({ code: 'invalid-query' });
    }
  });
});
