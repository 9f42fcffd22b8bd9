// What the Kafka + PostgreSQL pipeline's statement pattern costs in CPU, and what fewer round trips
// would save: PostgreSQL's side of one event, hand-written on raw `pg`, in five shapes.
//   node --conditions=@herald/source --import tsx bench/roundtrips.ts [--seconds 5] [--rounds 2] [--shapes herald-now,pipelined,batched,baseline+order,baseline]
// herald-now   what pgStores does today per event: (BEGIN; INSERT order; INSERT outbox; COMMIT) and
//              (BEGIN; INSERT inbox ON CONFLICT; INSERT effect; COMMIT): 8 round trips, 2 commits
// pipelined    the same statements, sent two at a time (pg's pipeline mode): 4 round trips, 2 commits
// batched      pipelined producer side; the consumer side as one transaction per 16 events
//              (effects + one multi-row inbox insert + COMMIT, pipelined): ~2.1 round trips, ~1.06 commits
// baseline+order  a dual write without outbox or inbox: autocommit INSERT order, autocommit INSERT
//              effect (the same business rows as Herald's workload): 2 round trips, 2 commits
// baseline     the hand-written consumer: one autocommit INSERT ... ON CONFLICT: 1 round trip, 1 commit
// Each runs with 24 concurrent callers (the bench's pool) for --seconds, --rounds times interleaved.
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { startPostgresCluster } from '@herald/testing/postgres-cluster';
import { cpuSeconds } from './cpu.js';

const { values: args } = parseArgs({ options: { seconds: { type: 'string', default: '5' }, rounds: { type: 'string', default: '2' }, shapes: { type: 'string', default: 'herald-now,pipelined,batched,baseline+order,baseline' } } });
const CALLERS = 24;
const BATCH = 16;
const value = JSON.stringify({ id: randomUUID(), type: 'BenchEvent', data: { payload: 'x'.repeat(150) } });

const SCHEMA = `
  CREATE TABLE orders (id text PRIMARY KEY, k text NOT NULL, seq int NOT NULL);
  CREATE TABLE outbox (seq bigserial PRIMARY KEY, id text NOT NULL, topic text NOT NULL, key text NOT NULL, value text NOT NULL, created_at bigint NOT NULL);
  CREATE TABLE inbox (event_id text NOT NULL, group_name text NOT NULL, handled_at bigint NOT NULL, PRIMARY KEY (event_id, group_name));
  CREATE TABLE effects (event_id text PRIMARY KEY, k text NOT NULL, seq int NOT NULL)`;

const order = (id: string, seq: number) => ({ text: 'INSERT INTO orders (id, k, seq) VALUES ($1, $2, $3)', values: [id, `k${seq % 1000}`, seq] });
const outbox = (id: string, seq: number) => ({ name: 'outbox', text: 'INSERT INTO outbox (id, topic, key, value, created_at) VALUES ($1, $2, $3, $4, $5)', values: [id, 'bench', `k${seq % 1000}`, value, Date.now()] });
const inbox = (id: string) => ({ name: 'inbox', text: 'INSERT INTO inbox (event_id, group_name, handled_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', values: [id, 'g', Date.now()] });
const effect = (id: string, seq: number) => ({ text: 'INSERT INTO effects (event_id, k, seq) VALUES ($1, $2, $3) ON CONFLICT (event_id) DO NOTHING', values: [id, `k${seq % 1000}`, seq] });
const inboxMany = (ids: string[]) => ({ text: 'INSERT INTO inbox (event_id, group_name, handled_at) SELECT unnest($1::text[]), $2, $3 ON CONFLICT DO NOTHING', values: [ids, 'g', Date.now()] });

/** One unit of work on one pooled connection; returns the events it covered. */
type Unit = (client: pg.PoolClient, seq: () => number) => Promise<number>;

const shapes: Record<string, { pipeline: boolean; unit: Unit }> = {
  'herald-now': {
    pipeline: false,
    async unit(c, next) {
      const seq = next();
      const id = randomUUID();
      for (const statements of [[order(id, seq), outbox(id, seq)], [inbox(id), effect(id, seq)]]) {
        await c.query('BEGIN');
        for (const s of statements) await c.query(s);
        await c.query('COMMIT');
      }
      return 1;
    },
  },
  pipelined: {
    pipeline: true,
    async unit(c, next) {
      const seq = next();
      const id = randomUUID();
      await Promise.all([c.query('BEGIN'), c.query(order(id, seq))]);
      await Promise.all([c.query(outbox(id, seq)), c.query('COMMIT')]);
      await Promise.all([c.query('BEGIN'), c.query(effect(id, seq))]);
      await Promise.all([c.query(inbox(id)), c.query('COMMIT')]);
      return 1;
    },
  },
  batched: {
    pipeline: true,
    async unit(c, next) {
      const events = Array.from({ length: BATCH }, () => ({ seq: next(), id: randomUUID() }));
      for (const { seq, id } of events) {
        await Promise.all([c.query('BEGIN'), c.query(order(id, seq))]);
        await Promise.all([c.query(outbox(id, seq)), c.query('COMMIT')]);
      }
      await Promise.all([c.query('BEGIN'), ...events.map(({ seq, id }) => c.query(effect(id, seq))), c.query(inboxMany(events.map((e) => e.id))), c.query('COMMIT')]);
      return BATCH;
    },
  },
  'baseline+order': {
    pipeline: false,
    async unit(c, next) {
      const seq = next();
      const id = randomUUID();
      await c.query(order(id, seq));
      await c.query(effect(id, seq));
      return 1;
    },
  },
  baseline: {
    pipeline: false,
    async unit(c, next) {
      const seq = next();
      await c.query(effect(randomUUID(), seq));
      return 1;
    },
  },
};

async function measure(url: string, name: string, seconds: number): Promise<{ perSec: number; cpuMsPerEvent: number }> {
  const shape = shapes[name]!;
  const pool = new pg.Pool({ connectionString: url, max: CALLERS, ...({ pipeline: shape.pipeline } as object) });
  let seq = 0;
  let events = 0;
  const before = cpuSeconds(url);
  const started = performance.now();
  const end = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: CALLERS }, async () => {
      const client = await pool.connect();
      try {
        while (performance.now() < end) {
          // not `events += await ...`: that reads `events` before awaiting and loses the others' counts
          const covered = await shape.unit(client, () => seq++);
          events += covered;
        }
      } finally {
        client.release();
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const after = cpuSeconds(url);
  await pool.end();
  const cpu = after.node - before.node + (after.postgres - before.postgres);
  return { perSec: Math.round(events / elapsed), cpuMsPerEvent: (cpu * 1000) / events };
}

const cluster = await startPostgresCluster();
try {
  const url = await cluster.createDatabase('roundtrips');
  const setup = new pg.Client({ connectionString: url });
  await setup.connect();
  await setup.query(SCHEMA);
  await setup.end();
  const results = new Map<string, { perSec: number[]; cpu: number[] }>();
  for (let round = 0; round < Number(args.rounds); round++) {
    for (const name of args.shapes.split(',')) {
      const r = await measure(url, name, Number(args.seconds));
      const entry = results.get(name) ?? { perSec: [], cpu: [] };
      entry.perSec.push(r.perSec);
      entry.cpu.push(r.cpuMsPerEvent);
      results.set(name, entry);
    }
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  console.table(
    [...results].map(([name, r]) => ({
      shape: name,
      'events/s': Math.round(mean(r.perSec)),
      'CPU ms/event (node + postgres)': Number(mean(r.cpu).toFixed(3)),
    })),
  );
} finally {
  await cluster.stop();
}
