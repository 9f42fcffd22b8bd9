import { join } from 'node:path';
import { afterAll } from 'vitest';
import type { Broker, Clock, SqlTx } from '@herald/core';
import {
  describeBrokerConformance,
  describeBrokerInspectorConformance,
  describeDeadLetterBrowserConformance,
  describeIdempotencyConformance,
  describeOutboxBacklogConformance,
  describeReadConformance,
  describePipelineConformance,
  describeSagaCensusConformance,
  describeRecordReaderConformance,
  describeSagaRetentionConformance,
  describeSagaStoreConformance,
  describeStoreConformance,
  describeTimerConformance,
  describeWindowStoreConformance,
  type BrokerUnderTest,
  type StoreUnderTest,
} from '@herald/testing';
import { sqliteEngine, sqliteLog, sqliteStores, type SqliteLog, type SqliteStores, type SqliteStoresOptions } from '@herald/sqlite';
import { RETENTION_CHUNK } from '../src/stores/sqliteStores.js';
import { tempDir } from './helpers.js';

const tmp = tempDir('herald-conformance-');
afterAll(() => tmp.remove());
let counter = 0;
const nextPath = (name: string) => join(tmp.dir, `${++counter}-${name}`);

// short sessions so the dead-member test takes a second or two, not the default ~3 s
const LEASES = { heartbeatMs: 100, sessionTimeoutMs: 1000 } as const;

async function logHarness(): Promise<BrokerUnderTest> {
  const path = nextPath('log.db');
  const open = (): SqliteLog => sqliteLog({ path, ...LEASES });
  const handles: SqliteLog[] = [];
  const track = (log: SqliteLog) => (handles.push(log), log);
  let current = track(open());
  return {
    broker: current,
    // a second connection to the same file, as a second process would have
    newMember: async () => track(open()),
    kill: (member: Broker) => (member as SqliteLog).crash(),
    reopen: async () => {
      await current.close();
      return (current = track(open()));
    },
    cleanup: async () => {
      await Promise.all(handles.map((log) => log.close()));
    },
  };
}

describeBrokerConformance({
  name: 'sqliteLog',
  guarantees: ['per-key-order', 'consumer-groups', 'replay', 'rebalance', 'persistence'],
  create: logHarness,
});

// inspected through a second handle on the file, which never joins a group
describeBrokerInspectorConformance({
  name: 'sqliteLog',
  guarantees: ['retention', 'partition-growth'],
  create: logHarness,
});

// read through a second handle on the file, as `herald tail` in another process would
describeRecordReaderConformance({ name: 'sqliteLog', create: logHarness });

const EFFECTS_TABLE = 'CREATE TABLE IF NOT EXISTS conformance_effects (seq INTEGER PRIMARY KEY, id TEXT NOT NULL)';

function storeHarness(path: string, clock: Clock, options: Partial<SqliteStoresOptions> = {}): StoreUnderTest<SqlTx, SqliteStores> {
  const stores: SqliteStores = sqliteStores({ ...options, path, clock });
  return {
    stores,
    async writeEffect(tx, id) {
      await tx.execute(EFFECTS_TABLE);
      await tx.execute('INSERT INTO conformance_effects (id) VALUES ($1)', [id]);
    },
    readEffects: () =>
      stores.transaction(async (tx) => {
        await tx.execute(EFFECTS_TABLE);
        return (await tx.query<{ id: string }>('SELECT id FROM conformance_effects')).map((row) => row.id);
      }),
    readEffectsIn: async (tx) => (await tx.query<{ id: string }>('SELECT id FROM conformance_effects')).map((row) => row.id),
    reopen: async () => storeHarness(path, clock, options),
    cleanup: () => stores.close(),
  };
}

describeStoreConformance<SqlTx, SqliteStores>({
  name: 'sqliteStores',
  durable: true,
  create: async ({ clock }) => storeHarness(nextPath('store.db'), clock),
});

for (const describeAbility of [
  describeIdempotencyConformance<SqlTx, SqliteStores>,
  describeDeadLetterBrowserConformance<SqlTx, SqliteStores>,
  describeOutboxBacklogConformance<SqlTx, SqliteStores>,
  describeTimerConformance<SqlTx, SqliteStores>,
  describeSagaStoreConformance<SqlTx, SqliteStores>,
  describeWindowStoreConformance<SqlTx, SqliteStores>,
  describeReadConformance<SqlTx, SqliteStores>,
]) {
  describeAbility({
    name: 'sqliteStores',
    durable: true,
    create: async ({ clock }) => storeHarness(nextPath('store.db'), clock),
  });
}

describeSagaCensusConformance<SqlTx, SqliteStores>({
  name: 'sqliteStores',
  durable: true,
  create: async ({ clock }) => storeHarness(nextPath('store.db'), clock),
});

const DAY = 24 * 60 * 60 * 1000;
const SAGA_RETENTION_MS = 30 * DAY;

describeSagaRetentionConformance<SqlTx, SqliteStores>({
  name: 'sqliteStores',
  sagaRetentionMs: SAGA_RETENTION_MS,
  chunk: RETENTION_CHUNK,
  create: async ({ clock }) => storeHarness(nextPath('store.db'), clock, { sagaRetentionMs: SAGA_RETENTION_MS }),
});

function engineHarness(relayThread: boolean) {
  return async () => {
    const engine = sqliteEngine({ dataDir: nextPath('engine'), log: LEASES, relayThread });
    const { stores } = engine;
    return {
      broker: engine.broker,
      stores,
      ...(engine.relayHost ? { relayHost: engine.relayHost } : {}),
      async writeEffect(tx: SqlTx, id: string) {
        await tx.execute(EFFECTS_TABLE);
        await tx.execute('INSERT INTO conformance_effects (id) VALUES ($1)', [id]);
      },
      readEffects: () =>
        stores.transaction(async (tx) => {
          await tx.execute(EFFECTS_TABLE);
          return (await tx.query<{ id: string }>('SELECT id FROM conformance_effects')).map((row) => row.id);
        }),
      cleanup: () => engine.close(),
    };
  };
}

describePipelineConformance<SqlTx>({ name: 'sqliteEngine (log + stores)', create: engineHarness(false) });

// the same guarantees with the relay in its worker thread, on its own connections to the files
describePipelineConformance<SqlTx>({ name: 'sqliteEngine (relay thread)', create: engineHarness(true) });
