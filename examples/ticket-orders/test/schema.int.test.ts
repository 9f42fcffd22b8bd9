import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jsonLogger } from '@herald/core';
import { engineFromEnv, type Engine } from '@herald/engine';
import { startPostgresCluster, type PostgresCluster } from '@herald/testing/postgres-cluster';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, SCHEMA } from '../src/schema.js';

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
      expect(tables.map((t) => t.table_name)).toEqual(['order_failures', 'orders', 'payments', 'ticket_voids', 'tickets']);
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

  it('replaces the live-seat index of earlier releases, which kept a FAILED order\'s seat held, on PostgreSQL and SQLite', async () => {
    const url = await cluster!.createDatabase('schema_upgrade');
    const engines = [
      await engineFromEnv({ HERALD_KAFKA_BROKERS: '127.0.0.1:9', DATABASE_URL: url, HERALD_PG_POOL_SIZE: '2' }, quiet),
      await engineFromEnv({ HERALD_DATA_DIR: join(dir, 'upgrade') }, quiet),
    ];
    try {
      for (const engine of engines) {
        const run = (sql: string) => engine.stores.transaction((tx) => tx.execute(sql));
        // the tables as a release before FAILED left them, with an order that ended FAILED since
        await run(SCHEMA[0]!);
        await run("CREATE UNIQUE INDEX orders_live_seat ON orders (flight_id, seat) WHERE status <> 'CANCELLED'");
        await run("INSERT INTO orders (order_id, customer_id, flight_id, seat, price_cents, status, created_at, updated_at) VALUES ('o-1', 'c-1', 'SU100', '1A', 5000, 'FAILED', 1, 2)");
        await migrate(engine.stores, { engine: engine.kind });
        const taken = await run("INSERT INTO orders (order_id, customer_id, flight_id, seat, price_cents, status, created_at, updated_at) VALUES ('o-2', 'c-2', 'SU100', '1A', 5000, 'CREATED', 3, 3) ON CONFLICT DO NOTHING");
        expect(taken, engine.kind).toBe(1);
        const again = await run("INSERT INTO orders (order_id, customer_id, flight_id, seat, price_cents, status, created_at, updated_at) VALUES ('o-3', 'c-3', 'SU100', '1A', 5000, 'CREATED', 4, 4) ON CONFLICT DO NOTHING");
        expect(again, engine.kind).toBe(0);
      }
    } finally {
      await Promise.all(engines.map((e) => e.close()));
    }
  });

  it(`on SQLite: ${PROCESSES} concurrent creations on one data directory all succeed`, async () => {
    const dataDir = join(dir, 'data');
    const open = () => engineFromEnv({ HERALD_DATA_DIR: dataDir }, quiet);
    const results = await concurrently(open, PROCESSES, (engine) => migrate(engine.stores, { engine: engine.kind }));
    expect(failures(results)).toEqual([]);
  });
});
