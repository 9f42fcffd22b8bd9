import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { createAnalyticsPipeline } from '../src/system.js';
import { TEST_ENV, tempDataDir } from './support/inProcess.js';

// A process may run any two of the three services (`--service producer,analytics`).

const data = tempDataDir('analytics-subset');
afterAll(() => data.remove());

describe('a process running two of the services', () => {
  it('starts and stops, a combination the app once refused by its name', async () => {
    const env = { ...TEST_ENV, HERALD_KAFKA_BROKERS: '', DATABASE_URL: '', HERALD_DATA_DIR: data.dir };
    const system = await createAnalyticsPipeline(loadConfig(env, ['--service', 'producer,analytics']), env);
    try {
      const urls = await system.start();
      expect(Object.keys(urls).sort()).toEqual(['analyticsGrpc', 'analyticsHttp', 'producerGrpc', 'producerHttp']);
    } finally {
      await system.close();
    }
  });
});

describe('the embedded analytics store of a data directory', () => {
  const start = async (dir: string, services: string) => {
    const env = { ...TEST_ENV, HERALD_KAFKA_BROKERS: '', DATABASE_URL: '', HERALD_DATA_DIR: dir };
    const system = await createAnalyticsPipeline(loadConfig(env, ['--service', services]), env);
    await system.close();
    return system.store?.kind;
  };

  it('stays the one holding the data when the services are laid out anew, and a layout that cannot open it says so', async () => {
    // one process first (DuckDB), then the consumer alone: it cannot share DuckDB's file, and an
    // empty SQLite store beside it would hide the data
    const together = tempDataDir('analytics-layout');
    try {
      expect(await start(together.dir, 'all')).toBe('duckdb');
      await expect(start(together.dir, 'consumer')).rejects.toMatchObject({ code: 'invalid-options', message: expect.stringContaining('analytics.duckdb') });
      expect(await start(together.dir, 'all')).toBe('duckdb');
    } finally {
      together.remove();
    }
    // separate processes first (SQLite), then all in one: it keeps reading the SQLite file
    const apart = tempDataDir('analytics-layout');
    try {
      expect(await start(apart.dir, 'consumer')).toBe('sqlite');
      expect(await start(apart.dir, 'all')).toBe('sqlite');
    } finally {
      apart.remove();
    }
  });
});
