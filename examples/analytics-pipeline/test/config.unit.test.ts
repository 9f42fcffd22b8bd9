import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { envelopeIdOf } from '../src/ingest.js';
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
