import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createApp, defineEvent, hasOutboxBacklog, jsonLogger } from '@herald/core';
import { startKafkaMock, type KafkaMock } from '@herald/testing/kafka-mock';
import { startPostgresCluster, type PostgresCluster } from '@herald/testing/postgres-cluster';
import { Type } from '@sinclair/typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engineFromEnv, type Engine, type EngineFromEnvOptions } from '../src/index.js';

const Ping = defineEvent({ type: 'Ping', topic: 'engine-pings', key: (d) => d.id, schema: Type.Object({ id: Type.String() }) });
const quiet: EngineFromEnvOptions = { logger: jsonLogger({ level: 'error' }), kafka: { clientLogLevel: 'silent', closeTimeoutMs: 3_000 } };
/** Runs a tiny app on the engine: 20 events through the outbox, the relay, the broker and a handler writing rows. */
async function roundTrip(engine: Engine): Promise<string[]> {
  await engine.stores.transaction((tx) => tx.execute('CREATE TABLE IF NOT EXISTS pings (id TEXT PRIMARY KEY)'));
  const app = createApp({ broker: engine.broker, stores: engine.stores, events: [Ping], logger: jsonLogger({ level: 'error' }) });
  app.on(Ping, { group: 'engine-test' }, async (event, ctx) => {
    await ctx.tx.execute('INSERT INTO pings (id) VALUES ($1)', [event.data.id]);
  });
  try {
    await app.start();
    const ids = Array.from({ length: 20 }, (_, i) => `p-${i}`);
    for (const id of ids) await app.publish(Ping, { id });
    const deadline = Date.now() + 30_000;
    for (;;) {
      const rows = await engine.stores.transaction((tx) => tx.query<{ id: string }>('SELECT id FROM pings ORDER BY id'));
      if (rows.length >= ids.length || Date.now() > deadline) return rows.map((r) => r.id);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    await app.close();
  }
}

const expectedIds = Array.from({ length: 20 }, (_, i) => `p-${i}`).sort();

describe('engineFromEnv opens the embedded engine', () => {
  const dir = mkdtempSync(join(tmpdir(), 'herald-engine-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('in HERALD_DATA_DIR, and runs an app end to end', async () => {
    const dataDir = join(dir, 'data');
    const engine = await engineFromEnv({ HERALD_DATA_DIR: dataDir }, quiet);
    expect(engine.kind).toBe('embedded');
    expect(engine.description).toBe(`embedded (${dataDir})`);
    expect(await roundTrip(engine)).toEqual(expectedIds);
    await engine.close();
    expect(existsSync(join(dataDir, 'log.db'))).toBe(true);
    expect(existsSync(join(dataDir, 'store.db'))).toBe(true);
  });
});

describe('engineFromEnv opens Kafka + PostgreSQL', () => {
  let mock: KafkaMock | undefined;
  let cluster: PostgresCluster | undefined;
  let engine: Engine | undefined;
  beforeAll(async () => {
    [mock, cluster] = await Promise.all([startKafkaMock({ brokers: 1 }), startPostgresCluster()]);
  });
  afterAll(async () => {
    await engine?.close();
    await Promise.all([mock?.stop(), cluster?.stop()]);
  });

  it('when HERALD_KAFKA_BROKERS and DATABASE_URL are set, and runs the same app end to end', { timeout: 90_000 }, async () => {
    const url = await cluster!.createDatabase('engine_test');
    const withPassword = url.replace('postgres@', 'postgres:not-shown@');
    engine = await engineFromEnv({ ...mock!.engineEnv, DATABASE_URL: withPassword, HERALD_PG_POOL_SIZE: '3' }, quiet);
    expect(engine.kind).toBe('kafka-postgres');
    expect(engine.description).toBe(`kafka (${mock!.brokers.join(',')}) + postgresql (127.0.0.1:${cluster!.port}/engine_test)`);
    expect(await roundTrip(engine)).toEqual(expectedIds);
    // the stores really are PostgreSQL's: Herald's tables live in the `herald` schema there
    const reopened = await engineFromEnv({ ...mock!.engineEnv, DATABASE_URL: url }, quiet);
    try {
      const written = await reopened.stores.transaction((tx) => tx.query<{ n: number }>("SELECT COUNT(*)::int AS n FROM herald.outbox WHERE type = 'Ping'"));
      expect(written).toEqual([{ n: 20 }]);
      // and all of it was relayed: nothing waits in the outbox
      expect(hasOutboxBacklog(reopened.stores.outbox) && (await reopened.stores.outbox.backlog())).toEqual([]);
    } finally {
      await reopened.close();
    }
  });
});

describe('engineFromEnv loads only the selected adapters', () => {
  const fixture = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'loadedModules.ts');
  const dir = mkdtempSync(join(tmpdir(), 'herald-engine-lazy-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const probe = async (env: Record<string, string>) => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--conditions=@herald/source', '--import', 'tsx', fixture, JSON.stringify(env)], { timeout: 30_000 });
    return JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
  };

  it('the embedded engine never loads kafkajs or pg; the Kafka + PostgreSQL engine never loads better-sqlite3', async () => {
    const [embedded, scaled] = await Promise.all([
      probe({ HERALD_DATA_DIR: join(dir, 'data') }),
      // opening connects nothing, so unreachable addresses are fine here
      probe({ HERALD_KAFKA_BROKERS: '127.0.0.1:9', DATABASE_URL: 'postgres://nobody@127.0.0.1:9/none' }),
    ]);
    expect(embedded).toEqual({ kind: 'embedded', kafkajs: false, pg: false, betterSqlite3: true });
    expect(scaled).toEqual({ kind: 'kafka-postgres', kafkajs: true, pg: true, betterSqlite3: false });
  });
});
