import type { Clock, SqlTx } from '@herald/core';
import {
  describeDeadLetterBrowserConformance,
  describeIdempotencyConformance,
  describeOutboxBacklogConformance,
  describeReadConformance,
  describeSagaCensusConformance,
  describeSagaRetentionConformance,
  describeSagaStoreConformance,
  describeStoreConformance,
  describeTimerConformance,
  describeWindowStoreConformance,
  type StoreUnderTest,
} from '@herald/testing';
import { startPostgresCluster, type PostgresCluster } from '@herald/testing/postgres-cluster';
import { afterAll, beforeAll } from 'vitest';
import { RETENTION_CHUNK } from '../src/internal/chunks.js';
import { pgStores, type PgStores, type PgStoresOptions } from '../src/index.js';

let cluster: PostgresCluster | undefined;
let databases = 0;

beforeAll(async () => {
  cluster = await startPostgresCluster();
});
afterAll(async () => {
  await cluster?.stop();
});

/** pgStores on `url`, with an `effects` table standing in for the application's own tables. */
async function open(url: string, options: Partial<PgStoresOptions> = {}): Promise<StoreUnderTest<SqlTx, PgStores>> {
  const stores = pgStores({ ...options, connectionString: url, poolSize: 12 });
  await stores.transaction((tx) => tx.execute('CREATE TABLE IF NOT EXISTS effects (n bigserial PRIMARY KEY, id text NOT NULL)'));
  return {
    stores,
    writeEffect: async (tx, id) => {
      await tx.execute('INSERT INTO effects (id) VALUES ($1)', [id]);
    },
    readEffects: async () => (await stores.transaction((tx) => tx.query<{ id: string }>('SELECT id FROM effects ORDER BY n'))).map((r) => r.id),
    readEffectsIn: async (tx) => (await tx.query<{ id: string }>('SELECT id FROM effects ORDER BY n')).map((r) => r.id),
    reopen: () => open(url, options),
  };
}

async function fresh(options: Partial<PgStoresOptions> = {}): Promise<StoreUnderTest<SqlTx, PgStores>> {
  if (!cluster) throw new Error('PostgreSQL test cluster not started');
  return open(await cluster.createDatabase(`conformance_${++databases}`), options);
}

describeStoreConformance<SqlTx, PgStores>({
  name: 'pgStores',
  durable: true,
  // claim leases and publishedAt run on the database clock (now()), shared by relays on any host
  leaseTime: 'wall',
  create: () => fresh(),
});

// pages stop before letters of transactions newer than one still running in the cluster: no
// background sweep may run one while the suite counts a page's letters (it asks for full pages)
describeDeadLetterBrowserConformance<SqlTx, PgStores>({ name: 'pgStores', durable: true, leaseTime: 'wall', create: () => fresh({ maintenance: false }) });

for (const describeAbility of [
  describeIdempotencyConformance<SqlTx, PgStores>,
  describeOutboxBacklogConformance<SqlTx, PgStores>,
  describeTimerConformance<SqlTx, PgStores>,
  describeSagaStoreConformance<SqlTx, PgStores>,
  describeWindowStoreConformance<SqlTx, PgStores>,
  describeReadConformance<SqlTx, PgStores>,
]) {
  describeAbility({ name: 'pgStores', durable: true, leaseTime: 'wall', create: () => fresh() });
}

describeSagaCensusConformance<SqlTx, PgStores>({ name: 'pgStores', durable: true, leaseTime: 'wall', create: () => fresh() });

const SAGA_RETENTION_MS = 30 * 24 * 60 * 60 * 1000;

// saga age is measured with the stores' clock (the app's, which stamps updatedAt), not the database's
describeSagaRetentionConformance<SqlTx, PgStores>({
  name: 'pgStores',
  sagaRetentionMs: SAGA_RETENTION_MS,
  chunk: RETENTION_CHUNK,
  create: ({ clock }: { clock: Clock }) => fresh({ clock, sagaRetentionMs: SAGA_RETENTION_MS }),
});
