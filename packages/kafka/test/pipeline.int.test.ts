import { afterAll, beforeAll } from 'vitest';
import { jsonLogger, uuidv7 } from '@herald/core';
import { describePipelineConformance, memoryStores } from '@herald/testing';
import type { MemoryTx } from '@herald/testing';
import { startKafkaMock } from '@herald/testing/kafka-mock';
import type { KafkaMock } from '@herald/testing/kafka-mock';
import { kafkaBroker } from '../src/index.js';

// The whole pipeline (createApp: outbox, relay, consumer runtime, inbox, retry, dead letters,
// redrive) over the Kafka adapter, with in-memory stores so that only the broker differs from the
// reference run.
let mock: KafkaMock;
beforeAll(async () => {
  mock = await startKafkaMock({ brokers: 3 });
});
afterAll(async () => {
  await mock?.stop();
});

describePipelineConformance<MemoryTx>({
  name: 'kafkaBroker (mock cluster) + memoryStores',
  partitions: 4,
  waitMs: 25_000,
  create: async () => {
    const stores = memoryStores();
    return {
      broker: kafkaBroker({
        brokers: mock.brokers,
        logger: jsonLogger({ level: 'error' }),
        clientLogLevel: 'silent',
        fetch: { maxWaitMs: 10 },
        group: { sessionTimeoutMs: 3_000, heartbeatIntervalMs: 300, rebalanceTimeoutMs: 10_000 },
      }),
      stores,
      writeEffect: async (tx, id) => tx.set(`effects/${uuidv7()}`, id),
      readEffects: () => stores.transaction(async (tx) => tx.keys('effects/').map((key) => tx.get<string>(key)!)),
    };
  },
});
