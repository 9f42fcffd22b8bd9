import { afterAll, beforeAll } from 'vitest';
import { pgStores } from '@herald/postgres';
import { memoryBroker } from '@herald/testing';
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
  name: 'PostgreSQL stores',
  async newWorld() {
    if (!cluster) throw new Error('PostgreSQL test cluster not started');
    const url = await cluster.createDatabase(`saga_${++databases}`);
    const broker = memoryBroker({ partitions: 2 });
    return {
      async open(clock) {
        // a restart: new stores (a new pool) on the same database; the broker's log stays
        return { broker: { ...broker, close: async () => {} }, stores: pgStores({ connectionString: url, poolSize: 6, clock }) };
      },
      async dispose() {
        await broker.close();
      },
    };
  },
});
