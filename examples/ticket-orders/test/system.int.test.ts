import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { createTicketOrders } from '../src/system.js';
import { tempDataDir } from './support/processes.js';

// A process may run any subset of the services, as the README's `--service payment,ticket` says.

const data = tempDataDir('ticket-orders-subset');
afterAll(() => data.remove());

describe('a process running some of the services', () => {
  it('starts and stops with two services named on the command line, a combination the app once refused by its name', async () => {
    const env = { HERALD_DATA_DIR: data.dir, HERALD_KAFKA_BROKERS: '', DATABASE_URL: '', HERALD_LOG_LEVEL: 'silent', PORT: '0' };
    const system = await createTicketOrders(loadConfig(env, ['--service', 'payment,ticket']), env);
    try {
      expect(system.gateway).toBeUndefined();
      await system.start();
    } finally {
      await system.close();
    }
  });
});
