/**
 * Benchmark of the PostgreSQL stores (not a test).
 *
 *   node --conditions=@herald/source --import tsx packages/postgres/bench/pgStores.bench.ts [--duration-ms 10000] [--callers 32]
 *        [--records 50000] [--keys 1000] [--json]
 *
 * 1. Transactions/s of `pgStores.transaction` with `--callers` concurrent callers for `--duration-ms`
 *    (interleaved in 2-second slices with the baseline below):
 *    each transaction inserts one application row, appends one ~200-byte event to the outbox and
 *    marks one inbox entry (the shape of a handler's unit of work), durably committed (fsync on).
 *    The same unit of work hand-written on the raw `pg` pool (BEGIN, three INSERTs, COMMIT) runs
 *    next to it as a baseline, so the stores' own overhead shows whatever the machine's load.
 * 2. Relay throughput: claim (1 000 per batch) + markPublished over a backlog of `--records` events
 *    on `--keys` keys, with one relay and then with three concurrent relays.
 *
 * Uses `DATABASE_URL` when set (in a throwaway schema), else starts a throwaway PostgreSQL 15 cluster.
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import type { OutboxRecord } from '@herald/core';
import { startPostgresCluster } from '@herald/testing/postgres-cluster';
import { pgStores, type PgStores } from '../src/index.js';

const { values: args } = parseArgs({
  options: {
    'duration-ms': { type: 'string', default: '10000' },
    callers: { type: 'string', default: '32' },
    records: { type: 'string', default: '50000' },
    keys: { type: 'string', default: '10000' },
    json: { type: 'boolean', default: false },
  },
});
const durationMs = Number(args['duration-ms']);
const callers = Number(args.callers);
const records = Number(args.records);
const keys = Number(args.keys);
const payload = 'x'.repeat(160);

function event(key: string): OutboxRecord {
  const id = randomUUID();
  const value = JSON.stringify({ id, type: 'OrderCreated', key, data: { payload } });
  return { id, topic: 'orders', key, type: 'OrderCreated', correlationId: id, value, headers: {}, createdAt: Date.now() };
}

type UnitOfWork = (key: string) => Promise<void>;

/** One application row + one outbox event + one inbox mark, through pgStores. */
function storesUnit(stores: PgStores): UnitOfWork {
  return (key) =>
    stores.transaction(async (tx) => {
      const e = event(key);
      await tx.execute('INSERT INTO bench_orders (id, key, payload) VALUES ($1, $2, $3)', [e.id, key, payload]);
      await stores.outbox.append(tx, [e]);
      await stores.inbox.markHandled(tx, { group: 'bench', eventId: randomUUID(), handledAt: Date.now() });
    });
}

/** The same unit hand-written on the raw pool: what a team would write without Herald. */
function rawUnit(stores: PgStores, schema: string): UnitOfWork {
  return async (key) => {
    const client = await stores.pool.connect();
    try {
      const e = event(key);
      await client.query('BEGIN');
      await client.query('INSERT INTO bench_orders (id, key, payload) VALUES ($1, $2, $3)', [e.id, key, payload]);
      await client.query({
        name: 'raw_outbox',
        text: `INSERT INTO "${schema}".outbox (id, topic, key, type, correlation_id, value, headers, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        values: [e.id, e.topic, e.key, e.type, e.correlationId, e.value, '{}', e.createdAt],
      });
      await client.query({
        name: 'raw_inbox',
        text: `INSERT INTO "${schema}".inbox (event_id, group_name, handled_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
        values: [randomUUID(), 'bench', Date.now()],
      });
      await client.query('COMMIT');
    } finally {
      client.release();
    }
  };
}

/** Runs `unit` with `callers` concurrent callers for `runMs`; returns each call's latency. */
async function slice(unit: UnitOfWork, runMs: number): Promise<{ latencies: number[]; seconds: number }> {
  const latencies: number[] = [];
  const deadline = performance.now() + runMs;
  let n = 0;
  async function caller(): Promise<void> {
    while (performance.now() < deadline) {
      const key = `key-${n++ % keys}`;
      const started = performance.now();
      await unit(key);
      latencies.push(performance.now() - started);
    }
  }
  const started = performance.now();
  await Promise.all(Array.from({ length: callers }, caller));
  return { latencies, seconds: (performance.now() - started) / 1000 };
}

/**
 * Measures several units for `durationMs` each, interleaved in 2-second slices, so that load
 * from other processes on the machine falls on all of them alike.
 */
async function compare(units: readonly UnitOfWork[]) {
  const totals = units.map(() => ({ latencies: [] as number[], seconds: 0 }));
  const slices = Math.max(1, Math.round(durationMs / 2000));
  for (let i = 0; i < slices; i++) {
    for (const [u, unit] of units.entries()) {
      const { latencies, seconds } = await slice(unit, durationMs / slices);
      totals[u]!.latencies.push(...latencies);
      totals[u]!.seconds += seconds;
    }
  }
  return totals.map(({ latencies, seconds }) => {
    latencies.sort((a, b) => a - b);
    const pick = (q: number) => round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!);
    return { transactions: latencies.length, perSec: Math.round(latencies.length / seconds), p50Ms: pick(0.5), p99Ms: pick(0.99), maxMs: pick(1) };
  });
}

async function fill(stores: PgStores): Promise<void> {
  for (let i = 0; i < records; i += 1000) {
    const batch = Array.from({ length: Math.min(1000, records - i) }, (_, j) => event(`key-${(i + j) % keys}`));
    await stores.transaction((tx) => stores.outbox.append(tx, batch));
  }
}

/** Claims and marks until the outbox is empty, with `count` relays at once. */
async function drain(stores: PgStores, count: number): Promise<{ moved: number; rounds: number; seconds: number }> {
  let moved = 0;
  let rounds = 0;
  async function relay(relayId: string): Promise<void> {
    for (;;) {
      const batch = await stores.outbox.claim({ relayId, limit: 1000, leaseMs: 30_000 });
      if (batch.length === 0) return;
      rounds++;
      moved += batch.length;
      await stores.outbox.markPublished(relayId, batch.map((r) => r.id));
    }
  }
  const started = performance.now();
  await Promise.all(Array.from({ length: count }, (_, i) => relay(`relay-${i}`)));
  return { moved, rounds, seconds: (performance.now() - started) / 1000 };
}

async function relays(stores: PgStores, count: number) {
  await fill(stores);
  const { moved, rounds, seconds } = await drain(stores, count);
  if (moved !== records) throw new Error(`relay bench moved ${moved} of ${records} records`);
  return { relays: count, records: moved, rounds, perSec: Math.round(moved / seconds) };
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

async function main(): Promise<void> {
  const cluster = process.env.DATABASE_URL ? undefined : await startPostgresCluster();
  const url = process.env.DATABASE_URL ?? (await cluster!.createDatabase('bench'));
  const schema = `herald_bench_${process.pid}`;
  const stores = pgStores({ connectionString: url, schema, poolSize: Math.max(callers, 4) });
  try {
    await stores.ready();
    await stores.transaction((tx) => tx.execute('CREATE TABLE IF NOT EXISTS bench_orders (id text PRIMARY KEY, key text NOT NULL, payload text NOT NULL)'));
    // warm-up (connections opened, statements prepared, caches filled) before measuring
    await slice(storesUnit(stores), 1000);
    await slice(rawUnit(stores, schema), 1000);
    const [tx, raw] = await compare([storesUnit(stores), rawUnit(stores, schema)]);
    // drain the events the transaction phase left, so the relay phases start from an empty outbox
    await drain(stores, 3);
    const one = await relays(stores, 1);
    const three = await relays(stores, 3);
    const result = { engine: 'postgres-stores', callers, durationMs, transaction: tx, rawPgTransaction: raw, relay1: one, relay3: three };
    if (args.json) {
      console.log(JSON.stringify(result));
    } else {
      console.log(`PostgreSQL stores (${cluster ? 'throwaway cluster, fsync on' : 'DATABASE_URL'})`);
      console.table({
        [`pgStores.transaction x${callers}`]: { 'per second': tx.perSec, count: tx.transactions, p50Ms: tx.p50Ms, p99Ms: tx.p99Ms, maxMs: tx.maxMs },
        [`raw pg baseline x${callers}`]: { 'per second': raw.perSec, count: raw.transactions, p50Ms: raw.p50Ms, p99Ms: raw.p99Ms, maxMs: raw.maxMs },
        'relay claim+mark, 1 relay': { 'per second': one.perSec, count: one.records, rounds: one.rounds },
        'relay claim+mark, 3 relays': { 'per second': three.perSec, count: three.records, rounds: three.rounds },
      });
    }
  } finally {
    if (!cluster) await stores.pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
    await stores.close();
    await cluster?.stop();
  }
}

await main();
