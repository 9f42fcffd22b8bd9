import type { SqlTx } from '@herald/core';
import { describePipelineConformance, memoryBroker } from '@herald/testing';
import { startPostgresCluster, type PostgresCluster } from '@herald/testing/postgres-cluster';
import { afterAll, beforeAll } from 'vitest';
import { pgStores } from '../src/index.js';

// The whole pipeline (createApp: relay, consumer runtime, inbox, retry, dead letters, redrive) on
// pgStores, with the in-memory broker so that only the stores differ from the reference run.
let cluster: PostgresCluster | undefined;
let databases = 0;

beforeAll(async () => {
  cluster = await startPostgresCluster();
});
afterAll(async () => {
  await cluster?.stop();
});

describePipelineConformance<SqlTx>({
  name: 'memoryBroker + pgStores',
  create: async () => {
    if (!cluster) throw new Error('PostgreSQL test cluster not started');
    const stores = pgStores({ connectionString: await cluster.createDatabase(`pipeline_${++databases}`), poolSize: 24 });
    await stores.transaction((tx) => tx.execute('CREATE TABLE effects (n bigserial PRIMARY KEY, id text NOT NULL)'));
    return {
      broker: memoryBroker({ partitions: 4 }),
      stores,
      writeEffect: async (tx, id) => {
        await tx.execute('INSERT INTO effects (id) VALUES ($1)', [id]);
      },
      readEffects: async () => (await stores.transaction((tx) => tx.query<{ id: string }>('SELECT id FROM effects ORDER BY n'))).map((r) => r.id),
    };
  },
});
