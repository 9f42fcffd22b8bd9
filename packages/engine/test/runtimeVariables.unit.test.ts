import { describe, expect, it } from 'vitest';
import { ENGINE_ENV_VARS, RUNTIME_ENV_VARS, readEngineConfig, runtimeSettings, selectServices } from '../src/index.js';
import { repositoryHeraldNames } from './support/repositoryVariables.js';

// The runtime's variables are read by every service, as the engine's are: a misspelt one must be
// refused as loudly, not leave the service on a default (HERALD_SERVICES=api running every service).
const refusal = (message: RegExp) => expect.objectContaining({ name: 'HeraldError', code: 'invalid-options', retriable: false, message: expect.stringMatching(message) });

describe('runtimeSettings and selectServices: variables they would ignore', () => {
  it.each([
    [{ HERALD_RETRY_MAX_ATTEMPT: '3' }, /^HERALD_RETRY_MAX_ATTEMPT \(did you mean HERALD_RETRY_MAX_ATTEMPTS\?\) is not a variable of the Herald runtime settings, which would ignore it/],
    [{ HERALD_SHUTDOWN_DEADLINE: '30000' }, /^HERALD_SHUTDOWN_DEADLINE \(did you mean HERALD_SHUTDOWN_DEADLINE_MS\?\)/],
    [{ HERALD_RELAY_LEASE: '5000' }, /^HERALD_RELAY_LEASE \(did you mean HERALD_RELAY_LEASE_MS\?\)/],
    [{ HERALD_LOGLEVEL: 'debug' }, /^HERALD_LOGLEVEL \(did you mean HERALD_LOG_LEVEL\?\)/],
    [{ HERALD_SERVICES: 'api' }, /^HERALD_SERVICES \(did you mean HERALD_SERVICE\?\)/],
    [{ HERALD_METRICS_PORT: '9464' }, /^HERALD_METRICS_PORT \(did you mean METRICS_PORT\?\)/],
    [{ HERALD_RETRY_JITTER: '0.5' }, /^HERALD_RETRY_JITTER \(known: HERALD_RETRY_MAX_ATTEMPTS, HERALD_RETRY_INITIAL_DELAY_MS, HERALD_RETRY_MAX_DELAY_MS\)/],
    [{ HERALD_CHAOS_RATE: '0.1', HERALD_CHAOS_DROP_RATE: '0.1', HERALD_LOGLEVEL: 'debug' }, /^HERALD_CHAOS_DROP_RATE \(.*\), HERALD_LOGLEVEL \(did you mean HERALD_LOG_LEVEL\?\) are not variables of the Herald runtime settings, which would ignore them/],
  ])('runtimeSettings refuses %j, naming the variable and the closest known one', (env, message) => {
    expect(() => runtimeSettings(env)).toThrow(refusal(message));
  });

  it('selectServices refuses them too: a misspelt HERALD_SERVICE would run every service', () => {
    expect(() => selectServices(['api', 'relay'] as const, [], { HERALD_SERVICES: 'api' })).toThrow(refusal(/^HERALD_SERVICES \(did you mean HERALD_SERVICE\?\)/));
    expect(() => selectServices(['api', 'relay'] as const, ['--service', 'api'], { HERALD_SERVICES: 'api' })).toThrow(refusal(/HERALD_SERVICES/));
  });

  it('never repeats the value of a variable it refuses', () => {
    expect(() => runtimeSettings({ HERALD_RETRY_MAX_ATTEMPT: 's3cret-value' })).not.toThrow(/s3cret-value/);
  });

  it("takes an empty one as unset, and leaves the engine's variables and a service's own HERALD_* alone", () => {
    expect(runtimeSettings({ HERALD_RETRY_MAX_ATTEMPT: '', HERALD_SERVICES: ' ' }).retry.maxAttempts).toBe(10);
    const engine = Object.fromEntries(Object.values(ENGINE_ENV_VARS).map((name) => [name, 'x']));
    const own = { HERALD_INSTANCE_ID: 'gw-1', HERALD_LOG_PRETTY: '0', HERALD_BENCH_PG_STATEMENTS: '10', HERALD_DATA_RETENTION_DAYS: '7', HERALD_METRICS_DIR: '/tmp' };
    expect(runtimeSettings({ ...engine, ...own }).logLevel).toBe('info');
    expect(selectServices(['api'] as const, [], { ...engine, ...own })).toEqual(['api']);
  });

  it("lists its variables, and engine selection leaves each alone (and the runtime the engine's)", () => {
    expect(Object.values(RUNTIME_ENV_VARS)).toEqual(expect.arrayContaining(['HERALD_LOG_LEVEL', 'HERALD_RETRY_MAX_ATTEMPTS', 'HERALD_SERVICE', 'METRICS_PORT']));
    for (const name of Object.values(RUNTIME_ENV_VARS)) expect(() => readEngineConfig({ [name]: '1' }), name).not.toThrow();
  });

  it("refuses none of the HERALD_* variables the repository's packages, examples, deployment and docs use", () => {
    const names = repositoryHeraldNames();
    expect(names).toEqual(expect.arrayContaining(['HERALD_CHAOS_RATE', 'HERALD_INSTANCE_ID', 'HERALD_LOG_PRETTY']));
    for (const name of names) expect(() => runtimeSettings({ [name]: '1' }), name).not.toThrow(/is not a variable/);
  });
});
