import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jsonLogger } from '@herald/core';
import { engineFromEnv, type Engine } from '@herald/engine';
import { startPostgresCluster, type PostgresCluster } from '@herald/testing/postgres-cluster';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../src/schema.js';

const PROCESSES = 25;
const quiet = { logger: jsonLogger({ level: 'silent' }) };

/** Opens `n` engines (each with its own pool, as separate processes would) and runs `work` on all at once. */
async function concurrently(open: () => Promise<Engine>, n: number, work: (engine: Engine) => Promise<void>): Promise<PromiseSettledResult<void>[]> {
  const engines = await Promise.all(Array.from({ length: n }, open));
  try {
    return await Promise.allSettled(engines.map(work));
  } finally {
    await Promise.all(engines.map((e) => e.close()));
  }
}

const failures = (results: PromiseSettledResult<void>[]) =>
  results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => String((r.reason as Error).message));

/** Every service process creates the example's tables at start; several start at once. */
describe('ticket-orders schema creation from many processes at once', () => {
  let cluster: PostgresCluster | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'herald-schema-'));
  beforeAll(async () => {
    cluster = await startPostgresCluster();
  });
  afterAll(async () => {
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it(`on PostgreSQL: ${PROCESSES} concurrent creations all succeed on their first run (advisory lock, no retry needed)`, async () => {
    const url = await cluster!.createDatabase('schema_locked');
    // opening an engine connects nothing: the Kafka address is never used here
    const open = () => engineFromEnv({ HERALD_KAFKA_BROKERS: '127.0.0.1:9', DATABASE_URL: url, HERALD_PG_POOL_SIZE: '2' }, quiet);
    const results = await concurrently(open, PROCESSES, (engine) => migrate(engine.stores, { engine: engine.kind, attempts: 1 }));
    expect(failures(results)).toEqual([]);
    const engine = await open();
    try {
      const tables = await engine.stores.transaction((tx) =>
        tx.query<{ table_name: string }>("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name"),
      );
      expect(tables.map((t) => t.table_name)).toEqual(['orders', 'payments', 'tickets']);
    } finally {
      await engine.close();
    }
  });

  it('on PostgreSQL without the lock, concurrent creations collide (why the lock is there)', async () => {
    // `engine: 'embedded'` skips the PostgreSQL lock. The race does not always bite: up to five
    // rounds on fresh databases, until one shows it. Some collisions are retriable conflicts, but
    // "relation already exists" (42P07) is not, so retrying alone would not make start-up safe.
    const seen: string[] = [];
    for (let round = 1; round <= 5 && seen.length === 0; round++) {
      const url = await cluster!.createDatabase(`schema_bare_${round}`);
      const open = () => engineFromEnv({ HERALD_KAFKA_BROKERS: '127.0.0.1:9', DATABASE_URL: url, HERALD_PG_POOL_SIZE: '2' }, quiet);
      seen.push(...failures(await concurrently(open, PROCESSES, (engine) => migrate(engine.stores, { engine: 'embedded', attempts: 1 }))));
    }
    console.log(JSON.stringify({ test: 'schema race without lock', processes: PROCESSES, failed: seen.length, errors: [...new Set(seen.map((m) => m.replace(/"[^"]+"/g, '"…"')))] }));
    expect(seen.length).toBeGreaterThan(0);
    for (const message of seen) expect(message).toMatch(/already exists|duplicate key value violates unique constraint "pg_/);
  });

  it(`on SQLite: ${PROCESSES} concurrent creations on one data directory all succeed`, async () => {
    const dataDir = join(dir, 'data');
    const open = () => engineFromEnv({ HERALD_DATA_DIR: dataDir }, quiet);
    const results = await concurrently(open, PROCESSES, (engine) => migrate(engine.stores, { engine: engine.kind }));
    expect(failures(results)).toEqual([]);
  });
});
