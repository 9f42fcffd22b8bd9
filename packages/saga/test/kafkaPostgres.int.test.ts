import { afterAll, beforeAll } from 'vitest';
import { jsonLogger } from '@herald/core';
import { kafkaBroker } from '@herald/kafka';
import { pgStores } from '@herald/postgres';
import { startKafkaMock } from '@herald/testing/kafka-mock';
import { startPostgresCluster, type PostgresCluster } from '@herald/testing/postgres-cluster';
import { describeSagaRuntime } from './runtimeSuite.js';

let cluster: PostgresCluster | undefined;
let databases = 0;

beforeAll(async () => {
  cluster = await startPostgresCluster();
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
});

describeSagaRuntime({
  name: 'Kafka (librdkafka mock cluster) and PostgreSQL',
  // consumer groups join the mock cluster in seconds, and again after the restart
  waitMs: 60_000,
  testTimeoutMs: 180_000,
  async newWorld() {
    if (!cluster) throw new Error('PostgreSQL test cluster not started');
    const url = await cluster.createDatabase(`saga_kafka_${++databases}`);
    // a cluster per test: groups start at the earliest offset, and must not see another test's flows
    const mock = await startKafkaMock({ brokers: 1 });
    return {
      async open(clock) {
        // a restart: a new client and new stores on the same cluster and database
        const broker = kafkaBroker({
          brokers: mock.brokers,
          logger: jsonLogger({ level: 'error' }),
          clientLogLevel: 'silent',
          closeTimeoutMs: 3_000,
          fetch: { maxWaitMs: 10 },
          group: { sessionTimeoutMs: 3_000, heartbeatIntervalMs: 300, rebalanceTimeoutMs: 10_000 },
        });
        return { broker, stores: pgStores({ connectionString: url, poolSize: 6, clock }) };
      },
      async dispose() {
        await mock.stop();
      },
    };
  },
});
