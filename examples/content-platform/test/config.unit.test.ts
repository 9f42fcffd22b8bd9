import { describe, expect, it } from 'vitest';
import { loadConfig, SERVICES } from '../src/config.js';

describe('loadConfig', () => {
  it('runs every service on 127.0.0.1:8080 at index generation 1 by default', () => {
    expect(loadConfig({}, [])).toMatchObject({ services: SERVICES, port: 8080, host: '127.0.0.1', searchIndexGeneration: 1, runtime: { relay: { chaos: { failRate: 0 } }, metricsServer: undefined, logLevel: 'info' } });
  });

  it('reads the services from --service or HERALD_SERVICE, and the settings from the environment', () => {
    expect(loadConfig({ HERALD_SERVICE: 'api' }, ['--service', 'search,notification']).services).toEqual(['search', 'notification']);
    expect(loadConfig({ HERALD_SERVICE: 'comment' }, []).services).toEqual(['comment']);
    expect(loadConfig({ SEARCH_INDEX_GENERATION: '3', METRICS_PORT: '9464', HERALD_CHAOS_RATE: '0.2' }, [])).toMatchObject({ searchIndexGeneration: 3, runtime: { metricsServer: { port: 9464 }, relay: { chaos: { failRate: 0.2 } } } });
  });

  it.each([
    [{ PORT: 'eighty' }, [], /PORT must be an integer/],
    [{ SEARCH_INDEX_GENERATION: '0' }, [], /SEARCH_INDEX_GENERATION must be an integer in \[1, 1000000\]/],
    [{ HERALD_CHAOS_RATE: '2' }, [], /HERALD_CHAOS_RATE/],
    [{ HERALD_LOG_LEVEL: 'loud' }, [], /HERALD_LOG_LEVEL/],
    [{}, ['--service', 'auth'], /unknown service "auth"; use all or one or more of api, content, comment, search, notification/],
  ])('refuses %j %j', (env, argv, message) => {
    expect(() => loadConfig(env, argv)).toThrow(message);
  });
});
