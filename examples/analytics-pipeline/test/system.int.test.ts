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
