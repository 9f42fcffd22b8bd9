import { describe, expect, it } from 'vitest';
import { loadConfig, SERVICES } from '../src/config.js';

describe('loadConfig', () => {
  it('defaults to every service on port 8080 in ./.herald, without chaos', () => {
    const config = loadConfig({}, []);
    expect(config).toMatchObject({
      services: SERVICES,
      port: 8080,
      host: '127.0.0.1',
      dataDir: './.herald',
      chaosRate: 0,
      chaosAfterAcceptRate: 0,
      paymentLimitCents: 100_000,
      handlerFailureRate: 0,
      retry: { maxAttempts: 5, initialDelayMs: 1000, maxDelayMs: 30_000 },
      idempotencyLeaseMs: 60_000,
      logLevel: 'info',
    });
  });

  it('reads the environment and the --service flag', () => {
    const config = loadConfig(
      { PORT: '9090', HERALD_DATA_DIR: '/tmp/x', HERALD_CHAOS_RATE: '0.2', PAYMENT_LIMIT_CENTS: '5000', HERALD_SERVICE: 'relay' },
      ['--service', 'payment-service,ticket'],
    );
    expect(config).toMatchObject({ port: 9090, dataDir: '/tmp/x', chaosRate: 0.2, paymentLimitCents: 5000, services: ['payment', 'ticket'] });
    expect(loadConfig({ HERALD_SERVICE: 'order' }, []).services).toEqual(['order']);
    expect(loadConfig({}, ['--service=api']).services).toEqual(['api']);
  });

  it.each([
    [{ PORT: 'eighty' }, [], /PORT/],
    [{ PORT: '70000' }, [], /PORT/],
    [{ HERALD_CHAOS_RATE: '1.5' }, [], /HERALD_CHAOS_RATE/],
    [{ HERALD_LOG_LEVEL: 'loud' }, [], /HERALD_LOG_LEVEL/],
    [{}, ['--service', 'billing'], /unknown service "billing"/],
  ])('refuses %j %j', (env, argv, message) => {
    expect(() => loadConfig(env, argv)).toThrow(message);
  });
});
