import { describe, expect, it } from 'vitest';
import { loadConfig, SERVICES } from '../src/config.js';

describe('loadConfig', () => {
  it('defaults to every service on port 8080, without chaos', () => {
    const config = loadConfig({}, []);
    expect(config).toMatchObject({
      services: SERVICES,
      port: 8080,
      host: '127.0.0.1',
      paymentLimitCents: 100_000,
      handlerFailureRate: 0,
      stepDeadlineMs: 300_000,
      runtime: {
        logLevel: 'info',
        retry: { maxAttempts: 5, initialDelayMs: 1000, maxDelayMs: 30_000 },
        relay: { leaseMs: 10_000, chaos: { failRate: 0, failAfterAcceptRate: 0 } },
        shutdownDeadlineMs: 10_000,
        idempotencyLeaseMs: 60_000,
        readinessGraceMs: 0,
        metricsPollIntervalMs: 10_000,
        metricsServer: undefined,
      },
    });
  });

  it('reads the metrics server settings: no server unless METRICS_PORT is set, 0 for any free port', () => {
    expect(loadConfig({ METRICS_PORT: '9464', METRICS_HOST: '0.0.0.0', HERALD_METRICS_POLL_INTERVAL_MS: '500' }, []).runtime).toMatchObject({
      metricsServer: { port: 9464, host: '0.0.0.0' },
      metricsPollIntervalMs: 500,
    });
    expect(loadConfig({ METRICS_PORT: '0' }, []).runtime.metricsServer).toEqual({ port: 0, host: '127.0.0.1' });
    expect(loadConfig({ METRICS_PORT: '' }, []).runtime.metricsServer).toBeUndefined();
  });

  it('reads the environment and the --service flag', () => {
    const config = loadConfig(
      { PORT: '9090', HERALD_CHAOS_RATE: '0.2', HERALD_RELAY_LEASE_MS: '3000', PAYMENT_LIMIT_CENTS: '5000', HERALD_SERVICE: 'relay' },
      ['--service', 'payment-service,ticket'],
    );
    expect(config).toMatchObject({ port: 9090, paymentLimitCents: 5000, services: ['payment', 'ticket'] });
    expect(loadConfig({ ORDER_STEP_DEADLINE_MS: '45000' }, []).stepDeadlineMs).toBe(45_000);
    expect(config.runtime.relay).toEqual({ leaseMs: 3000, chaos: { failRate: 0.2, failAfterAcceptRate: 0 } });
    expect(loadConfig({ HERALD_SERVICE: 'order' }, []).services).toEqual(['order']);
    expect(loadConfig({}, ['--service=api']).services).toEqual(['api']);
  });

  it('exports traces only when an OTEL_* variable names an exporter or an OTLP endpoint', () => {
    expect(loadConfig({}, []).tracing).toBe(false);
    expect(loadConfig({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }, []).tracing).toBe(false);
    expect(loadConfig({ OTEL_TRACES_EXPORTER: 'console' }, []).tracing).toBe(true);
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }, []).tracing).toBe(true);
    expect(loadConfig({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' }, []).tracing).toBe(true);
  });

  it.each([
    [{ PORT: 'eighty' }, [], /PORT/],
    [{ PORT: '70000' }, [], /PORT/],
    [{ HERALD_CHAOS_RATE: '1.5' }, [], /HERALD_CHAOS_RATE/],
    [{ HERALD_LOG_LEVEL: 'loud' }, [], /HERALD_LOG_LEVEL/],
    [{ HERALD_RELAY_LEASE_MS: '10' }, [], /HERALD_RELAY_LEASE_MS/],
    [{ METRICS_PORT: '65536' }, [], /METRICS_PORT/],
    [{ HERALD_METRICS_POLL_INTERVAL_MS: '-1' }, [], /HERALD_METRICS_POLL_INTERVAL_MS/],
    [{ ORDER_STEP_DEADLINE_MS: '0' }, [], /ORDER_STEP_DEADLINE_MS/],
    [{ ORDER_STEP_DEADLINE_MS: '604800001' }, [], /ORDER_STEP_DEADLINE_MS/],
    [{}, ['--service', 'billing'], /unknown service "billing"/],
  ])('refuses %j %j', (env, argv, message) => {
    expect(() => loadConfig(env, argv)).toThrow(message);
  });
});
