/**
 * Times the read side of the PostgreSQL stores on many rows (not a test): pages, counts and groups of
 * the dead letter browser, and the outbox backlog, each the median of 20 runs, with the plan
 * PostgreSQL chose. With `--without-indexes`, the read side's indexes (migration 6) are dropped
 * first, to see what they buy; `add` times one dead letter write, what they cost.
 *
 *   node --conditions=@herald/source --import tsx packages/postgres/bench/readSide.bench.ts
 *        [--letters 200000] [--pending 100000] [--published 1000000] [--open-recent] [--without-indexes] [--plans] [--keep]
 *
 * The letters are spread like the SQLite bench's (packages/sqlite/bench/readSide.ts): 50 groups of
 * 20 handlers, 200 fingerprints, one failure a second up to now, 10% open (dead or parked), the rest
 * resolved; with `--open-recent` the open ones are the newest tenth, as after operators dealt with
 * the older failures (the spread default is the worst case for the open letters' index). `--plans` prints each read's plan (EXPLAIN ANALYZE). Uses `DATABASE_URL` when set (in a
 * throwaway schema, which `--keep` leaves there for a closer look), else a throwaway cluster.
 */
import { parseArgs } from 'node:util';
import { uuidv7, type DeadLetter, type DeadLetterQuery } from '@herald/core';
import { startPostgresCluster, type PostgresCluster } from '@herald/testing/postgres-cluster';
import pg from 'pg';
import { pgStores } from '../src/index.js';

const { values: args } = parseArgs({
  options: {
    letters: { type: 'string', default: '200000' },
    pending: { type: 'string', default: '100000' },
    published: { type: 'string', default: '1000000' },
    'without-indexes': { type: 'boolean', default: false },
    plans: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    'open-recent': { type: 'boolean', default: false },
  },
});
const letters = Number(args.letters);
const pending = Number(args.pending);
const published = Number(args.published);
const READ_SIDE_INDEXES = ['dead_letters_open', 'dead_letters_fingerprint', 'dead_letters_last_failure'];

let cluster: PostgresCluster | undefined;
let url = process.env.DATABASE_URL;
if (!url) {
  cluster = await startPostgresCluster();
  url = await cluster.createDatabase('read_side');
}
const schema = `bench_read_${process.pid}`;
const now = Date.now();
const pool = new pg.Pool({ connectionString: url, max: 2 });
// no retention sweep in the middle of a measurement
const stores = pgStores({ connectionString: url, schema, sweepIntervalMs: 2 ** 31 - 1 });

/** Fills the tables in SQL (generate_series): hundreds of thousands of rows in seconds. */
async function fill(): Promise<void> {
  await stores.ready();
  const dl = `${schema}.dead_letters`;
  // spread: every tenth letter open; recent: the newest tenth (older failures were dealt with)
  const isOpen = args['open-recent'] ? `i > $2::int * 9 / 10` : `i % 10 = 0`;
  await pool.query(`INSERT INTO ${dl} (id, group_name, handler, event_id, event_type, topic, partition, record_offset, key, reason, fingerprint,
      error, attempts, first_failure_at, last_failure_at, envelope, headers, policy, status, resolved_at)
    SELECT 'dl-' || i, 'group-' || i % 50, 'group-' || i % 50 || ':Handler' || i % 20, 'ev-' || i, 'Event' || i % 20, 'topic-' || i % 20, i % 8, i,
      'key-' || i % 5000, CASE WHEN i % 7 = 0 THEN 'timeout' ELSE 'handler-failed' END, 'fp-' || i % 200,
      '{"name":"Error","message":"failure ' || i % 200 || '","stack":"Error: failure\\n    at handler (src/h' || i % 200 || '.ts:1:1)"}', 5,
      $1::bigint - ($2::bigint - i) * 1000 - 5000, $1::bigint - ($2::bigint - i) * 1000,
      '{"id":"x","type":"OrderPlaced","data":{"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}}', '{}', 'skip',
      CASE WHEN ${isOpen} THEN CASE WHEN i % 20 = 0 THEN 'parked' ELSE 'dead' END WHEN i % 3 = 0 THEN 'discarded' ELSE 'redriven' END,
      CASE WHEN ${isOpen} THEN NULL ELSE $1::bigint END
    FROM generate_series(1, $2::int) AS i`, [now, letters]);
  // published first, then the backlog: the order a real outbox has them in
  const outbox = (count: number, publishedAt: string) =>
    pool.query(`INSERT INTO ${schema}.outbox (id, topic, key, type, correlation_id, value, headers, created_at, published_at)
      SELECT gen_random_uuid()::text, 'topic-' || i % 20, 'key-' || i % 5000, 'OrderPlaced', gen_random_uuid()::text,
        '{"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}', '{}', $1::bigint - $2::bigint + i, ${publishedAt}
      FROM generate_series(1, $2::int) AS i`, [now, count]);
  await outbox(published, '$1::bigint');
  await outbox(pending, 'NULL');
  if (args['without-indexes']) for (const name of READ_SIDE_INDEXES) await pool.query(`DROP INDEX ${schema}.${name}`);
  // what autovacuum leaves a settled table in: statistics and a visibility map
  await pool.query(`VACUUM ANALYZE ${schema}.dead_letters`);
  await pool.query(`VACUUM ANALYZE ${schema}.outbox`);
}

async function median(run: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 20; i++) {
    const start = process.hrtime.bigint();
    await run();
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return times.sort((a, b) => a - b)[10]!;
}

/** The plan of the statement a read sends, captured from the pool the stores use. */
async function planOf(run: () => Promise<unknown>): Promise<string> {
  const client = await stores.pool.connect();
  const sent: { text: string; values?: unknown[] }[] = [];
  const original = stores.pool.query.bind(stores.pool);
  (stores.pool as unknown as { query: (config: { text: string; values?: unknown[] }) => unknown }).query = (config) => {
    sent.push(config);
    return original(config as never);
  };
  try {
    await run();
  } finally {
    (stores.pool as unknown as { query: unknown }).query = original;
  }
  try {
    const statement = sent.at(-1)!;
    const { rows } = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF) ${statement.text}`, statement.values);
    return rows.map((r) => `    ${r['QUERY PLAN']}`).join('\n');
  } finally {
    client.release();
  }
}

await fill();
const browser = stores.deadLetters;
const open: DeadLetterQuery = { status: ['dead', 'parked'] };
const hourAgo = now - 3_600_000;
const second = (await browser.page({ ...open, limit: 100 })).next!;
const sample = (await browser.page({ limit: 1 })).letters[0]!;
// another record's letter (its own event id): a letter of the sample's record would be kept out, not added
const add = (): Promise<unknown> => browser.add({ ...sample, id: uuidv7(), eventId: uuidv7(), status: 'dead' } satisfies DeadLetter);
const cases: [string, () => Promise<unknown>][] = [
  ['page: all, first 100', () => browser.page({ limit: 100 })],
  ['page: open letters, first 100', () => browser.page({ ...open, limit: 100 })],
  ['page: open letters, second 100', () => browser.page({ ...open, limit: 100, cursor: second })],
  ['page: one fingerprint, first 100', () => browser.page({ fingerprint: 'fp-120', limit: 100 })],
  ['page: one group, open, first 100', () => browser.page({ group: 'group-10', ...open, limit: 100 })],
  ['page: last hour, first 100', () => browser.page({ since: hourAgo, limit: 100 })],
  ['count: open letters', () => browser.count(open)],
  ['count: last hour', () => browser.count({ since: hourAgo })],
  ['count: one fingerprint', () => browser.count({ fingerprint: 'fp-120' })],
  ['count: all', () => browser.count()],
  ['groups: open letters', () => browser.groups(open)],
  ['groups: one group, open', () => browser.groups({ group: 'group-10', ...open })],
  ['groups: all', () => browser.groups()],
  ['outbox backlog', () => stores.outbox.backlog()],
  ['add: one dead letter', add],
];
console.log(
  `${letters} dead letters (10% open, ${args['open-recent'] ? 'the newest' : 'spread'}), outbox ${pending} pending + ${published} published, read side indexes: ${args['without-indexes'] ? 'dropped' : 'present'}`,
);
for (const [name, run] of cases) {
  console.log(`${name.padEnd(36)} ${(await median(run)).toFixed(2).padStart(8)} ms`);
  if (args.plans && !name.startsWith('add')) console.log(await planOf(run));
}
await stores.close();
if (args.keep && !cluster) console.log(`kept schema ${schema}`);
else await pool.query(`DROP SCHEMA ${schema} CASCADE`);
await pool.end();
await cluster?.stop();
