import { createApp, silentLogger } from '@herald/core';
import { memoryBroker, memoryStores } from '@herald/testing';
import { describeRequestReply } from './scenario.js';

// The in-memory engine: every instance is a client of one memory log (`connect()`, as separate
// processes would be) with stores of its own.
describeRequestReply('the in-memory engine', () => {
  const log = memoryBroker();
  return {
    waitMs: 10_000,
    open: async (service) =>
      createApp({
        name: service,
        broker: log.connect(),
        stores: memoryStores(),
        logger: silentLogger,
        relay: { idleMs: 5 },
        groups: { notifier: { commitIntervalMs: 20 }, users: { commitIntervalMs: 20 } },
      }),
    cleanup: () => log.close(),
  };
});
