import { createApp, jsonLogger, silentLogger } from '@herald/core';
import { kafkaBroker } from '@herald/kafka';
import { pgStores } from '@herald/postgres';
import { startKafkaMock, type KafkaMock } from '@herald/testing/kafka-mock';
import { startPostgresCluster, type PostgresCluster } from '@herald/testing/postgres-cluster';
import { afterAll, beforeAll } from 'vitest';
import { describeRequestReply } from './scenario.js';

// Kafka (librdkafka's mock cluster) + PostgreSQL: each service has its database, shared by its
// instances; every instance has its own Kafka client. The mock holds an empty fetch for its whole
// max wait and a rebalance lasts about the session timeout, hence the short settings.
let mock: KafkaMock | undefined;
let cluster: PostgresCluster | undefined;
const databases = new Map<string, string>();

beforeAll(async () => {
  [mock, cluster] = await Promise.all([startKafkaMock({ brokers: 1 }), startPostgresCluster()]);
  for (const service of ['users', 'notifier']) databases.set(service, await cluster.createDatabase(`reply_${service}`));
}, 120_000);
afterAll(async () => {
  await Promise.all([mock?.stop(), cluster?.stop()]);
});

describeRequestReply('Kafka (mock cluster) + PostgreSQL', () => ({
  waitMs: 30_000,
  open: async (service) =>
    createApp({
      name: service,
      broker: kafkaBroker({
        brokers: mock!.brokers,
        logger: jsonLogger({ level: 'error' }),
        clientLogLevel: 'silent',
        closeTimeoutMs: 3_000,
        fetch: { maxWaitMs: 10 },
        group: { sessionTimeoutMs: 3_000, heartbeatIntervalMs: 300, rebalanceTimeoutMs: 10_000 },
      }),
      stores: pgStores({ connectionString: databases.get(service)!, poolSize: 4 }),
      // silent: the scenario dead-letters a request on purpose
      logger: silentLogger,
      relay: { idleMs: 5 },
      groups: { notifier: { commitIntervalMs: 20 }, users: { commitIntervalMs: 20 } },
    }) as never,
}));
