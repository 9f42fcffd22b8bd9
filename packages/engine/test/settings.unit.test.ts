import { describe, expect, it } from 'vitest';
import { runtimeSettings, selectServices, settingsFrom } from '../src/index.js';

const SERVICES = ['api', 'search', 'notification'] as const;

describe('settingsFrom', () => {
  it('reads values, treats empty as unset, and refuses bad ones naming the variable', () => {
    const read = settingsFrom({ PORT: ' 8081 ', RATE: '0.25', LEVEL: 'warn', EMPTY: '', HOST: 'example.org' });
    expect(read.integer('PORT', 1, 0, 65_535)).toBe(8081);
    expect(read.integer('EMPTY', 7, 0, 10)).toBe(7);
    expect(read.integer('MISSING', 7, 0, 10)).toBe(7);
    expect(read.fraction('RATE', 0)).toBe(0.25);
    expect(read.oneOf('LEVEL', ['info', 'warn'] as const, 'info')).toBe('warn');
    expect(read.text('HOST', '127.0.0.1')).toBe('example.org');
    expect(read.text('EMPTY', '127.0.0.1')).toBe('127.0.0.1');

    const bad = settingsFrom({ PORT: '80.5', BIG: '70000', RATE: '1.5', NAN: 'x', LEVEL: 'loud' });
    expect(() => bad.integer('PORT', 1, 0, 65_535)).toThrow(expect.objectContaining({ code: 'invalid-options', message: 'PORT must be an integer in [0, 65535], got "80.5"' }));
    expect(() => bad.integer('BIG', 1, 0, 65_535)).toThrow('BIG must be an integer in [0, 65535], got "70000"');
    expect(() => bad.fraction('RATE', 0)).toThrow('RATE must be a number in [0, 1], got "1.5"');
    expect(() => bad.fraction('NAN', 0)).toThrow('NAN must be a number in [0, 1], got "x"');
    expect(() => bad.oneOf('LEVEL', ['info', 'warn'] as const, 'info')).toThrow('LEVEL must be one of info, warn, got "loud"');
  });

  it('takes integers and fractions in decimal notation only, as the engine variables', () => {
    const read = settingsFrom({ OFFSET: '-5', ZERO: '-0', HALF: '.5', ONE: '1', HEX: '0x10', EXP: '1e4', DOTTED: '10.0', BIN: '0b1', SMALL: '1e-1' });
    for (const name of ['HEX', 'EXP', 'DOTTED', 'BIN']) {
      expect(() => read.integer(name, 1, 0, 100_000)).toThrow(expect.objectContaining({ code: 'invalid-options', message: expect.stringMatching(new RegExp(`^${name} must be an integer in \\[0, 100000\\], got "`)) }));
    }
    for (const name of ['HEX', 'BIN', 'SMALL']) {
      expect(() => read.fraction(name, 0)).toThrow(expect.objectContaining({ code: 'invalid-options', message: expect.stringMatching(new RegExp(`^${name} must be a number in \\[0, 1\\], got "`)) }));
    }
    expect(() => runtimeSettings({ HERALD_RETRY_MAX_ATTEMPTS: '0x10' })).toThrow('HERALD_RETRY_MAX_ATTEMPTS must be an integer in [1, 1000], got "0x10"');
    expect(() => runtimeSettings({ HERALD_RETRY_INITIAL_DELAY_MS: '1e4' })).toThrow('HERALD_RETRY_INITIAL_DELAY_MS must be an integer in [0, 3600000], got "1e4"');
    expect(read.integer('OFFSET', 0, -10, 10)).toBe(-5);
    expect(read.integer('ZERO', 1, -10, 10)).toBe(0);
    expect(read.fraction('HALF', 0)).toBe(0.5);
    expect(read.fraction('ONE', 0)).toBe(1);
  });
});

describe('selectServices', () => {
  it('takes --service, --service=, then HERALD_SERVICE, else all; dedupes and accepts a -service suffix', () => {
    expect(selectServices(SERVICES, [], {})).toEqual(SERVICES);
    expect(selectServices(SERVICES, ['--service', 'all'], {})).toEqual(SERVICES);
    expect(selectServices(SERVICES, ['--service', 'search,notification-service,search'], {})).toEqual(['search', 'notification']);
    expect(selectServices(SERVICES, ['--service=api'], { HERALD_SERVICE: 'search' })).toEqual(['api']);
    expect(selectServices(SERVICES, [], { HERALD_SERVICE: ' api , search ' })).toEqual(['api', 'search']);
    // an empty HERALD_SERVICE is unset, as every other variable
    expect(selectServices(SERVICES, [], { HERALD_SERVICE: '' })).toEqual(SERVICES);
    expect(selectServices(SERVICES, [], { HERALD_SERVICE: '  ' })).toEqual(SERVICES);
  });

  it('refuses an unknown or missing name, listing the services', () => {
    expect(() => selectServices(SERVICES, ['--service', 'relay'], {})).toThrow(
      expect.objectContaining({ code: 'invalid-options', message: 'unknown service "relay"; use all or one or more of api, search, notification' }),
    );
    expect(() => selectServices(SERVICES, ['--service'], {})).toThrow('unknown service ""');
  });
});

describe('runtimeSettings', () => {
  it("has Herald's defaults, a service's own retry defaults over them, and no metrics server unless METRICS_PORT is set", () => {
    expect(runtimeSettings({})).toEqual({
      logLevel: 'info',
      retry: { maxAttempts: 10, initialDelayMs: 200, maxDelayMs: 30_000 },
      relay: { leaseMs: 10_000, chaos: { failRate: 0, failAfterAcceptRate: 0 } },
      shutdownDeadlineMs: 10_000,
      idempotencyLeaseMs: 60_000,
      readinessGraceMs: 0,
      metricsPollIntervalMs: 10_000,
      metricsServer: undefined,
    });
    expect(runtimeSettings({}, { retry: { maxAttempts: 5, initialDelayMs: 1_000 } }).retry).toEqual({ maxAttempts: 5, initialDelayMs: 1_000, maxDelayMs: 30_000 });
    expect(runtimeSettings({ METRICS_PORT: '0' }).metricsServer).toEqual({ port: 0, host: '127.0.0.1' });
    expect(runtimeSettings({ METRICS_PORT: ' ', METRICS_HOST: '0.0.0.0' }).metricsServer).toBeUndefined();
  });

  it('reads every variable, and refuses a bad one naming it', () => {
    const env = {
      HERALD_LOG_LEVEL: 'debug',
      HERALD_RETRY_MAX_ATTEMPTS: '3',
      HERALD_RETRY_INITIAL_DELAY_MS: '10',
      HERALD_RETRY_MAX_DELAY_MS: '100',
      HERALD_RELAY_LEASE_MS: '1000',
      HERALD_CHAOS_RATE: '0.2',
      HERALD_CHAOS_AFTER_ACCEPT_RATE: '0.05',
      HERALD_SHUTDOWN_DEADLINE_MS: '5000',
      HERALD_IDEMPOTENCY_LEASE_MS: '2000',
      HERALD_READINESS_GRACE_MS: '300',
      HERALD_METRICS_POLL_INTERVAL_MS: '0',
      METRICS_PORT: '9464',
      METRICS_HOST: '0.0.0.0',
    };
    expect(runtimeSettings(env, { retry: { maxAttempts: 5 } })).toEqual({
      logLevel: 'debug',
      retry: { maxAttempts: 3, initialDelayMs: 10, maxDelayMs: 100 },
      relay: { leaseMs: 1_000, chaos: { failRate: 0.2, failAfterAcceptRate: 0.05 } },
      shutdownDeadlineMs: 5_000,
      idempotencyLeaseMs: 2_000,
      readinessGraceMs: 300,
      metricsPollIntervalMs: 0,
      metricsServer: { port: 9464, host: '0.0.0.0' },
    });
    for (const [name, value] of [
      ['HERALD_LOG_LEVEL', 'loud'],
      ['HERALD_RETRY_MAX_ATTEMPTS', '0'],
      ['HERALD_RELAY_LEASE_MS', '10'],
      ['HERALD_CHAOS_RATE', '1.5'],
      ['METRICS_PORT', '65536'],
    ] as const) {
      expect(() => runtimeSettings({ [name]: value })).toThrow(expect.objectContaining({ code: 'invalid-options', message: expect.stringContaining(name) }));
    }
  });

  it('refuses an initial retry delay above the maximum, naming the variable and where the other value came from', () => {
    expect(() => runtimeSettings({ HERALD_RETRY_INITIAL_DELAY_MS: '60000' })).toThrow(
      expect.objectContaining({
        code: 'invalid-options',
        message: 'HERALD_RETRY_INITIAL_DELAY_MS (60000) must be at most the maximum retry delay (30000, the default; HERALD_RETRY_MAX_DELAY_MS sets it)',
      }),
    );
    expect(() => runtimeSettings({ HERALD_RETRY_MAX_DELAY_MS: '500' }, { retry: { initialDelayMs: 1_000 } })).toThrow(
      'the initial retry delay (1000, the service\'s default; HERALD_RETRY_INITIAL_DELAY_MS sets it) must be at most HERALD_RETRY_MAX_DELAY_MS (500)',
    );
    expect(() => runtimeSettings({ HERALD_RETRY_INITIAL_DELAY_MS: '20', HERALD_RETRY_MAX_DELAY_MS: '10' })).toThrow(
      'HERALD_RETRY_INITIAL_DELAY_MS (20) must be at most HERALD_RETRY_MAX_DELAY_MS (10)',
    );
    expect(runtimeSettings({ HERALD_RETRY_INITIAL_DELAY_MS: '30000' }).retry).toMatchObject({ initialDelayMs: 30_000, maxDelayMs: 30_000 });
  });

  it('reads HERALD_LOG_LEVEL in any case, as every logger Herald makes reads it', () => {
    expect(runtimeSettings({ HERALD_LOG_LEVEL: ' WARN ' }).logLevel).toBe('warn');
    expect(runtimeSettings({ HERALD_LOG_LEVEL: '' }).logLevel).toBe('info');
  });
});
