import type { DeadLetter, OutboxRecord } from '@herald/core';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { pgStores, type PgStores } from '../src/index.js';
import type { Statement } from '../src/internal/db.js';
import { countDeadLetters } from '../src/internal/deadLetters/countDeadLetters.js';
import { pageDeadLetters } from '../src/internal/deadLetters/pageDeadLetters.js';
import { countOutboxBacklog } from '../src/internal/outbox/countOutboxBacklog.js';
import { tablesFor } from '../src/internal/tables.js';
import { usePostgres } from './support.js';

const pgs = usePostgres();
const t = tablesFor('herald');

let letters = 0;
function letter(fields: Partial<DeadLetter> = {}): DeadLetter {
  const n = ++letters;
  return {
    id: `letter-${String(n).padStart(4, '0')}`,
    group: 'billing',
    handler: 'billing:OrderPlaced',
    eventId: `event-${n}`,
    eventType: 'OrderPlaced',
    topic: 'orders',
    partition: 1,
    offset: 2 ** 40 + n,
    key: `key-${n}`,
    reason: 'handler-failed',
    fingerprint: 'fp',
    error: { name: 'Error', message: `failure ${n}` },
    attempts: 3,
    firstFailureAt: 1_700_000_000_000,
    lastFailureAt: 1_700_000_000_000,
    envelope: '{}',
    headers: {},
    policy: 'skip',
    status: 'dead',
    ...fields,
  };
}

function record(topic: string, createdAt: number): OutboxRecord {
  const id = `record-${++letters}`;
  return { id, topic, key: 'k', type: 'OrderPlaced', correlationId: id, value: '{}', headers: {}, createdAt };
}

async function explain(stores: PgStores, statement: Statement): Promise<string> {
  const rows = await stores.transaction((tx) => tx.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${statement.text}`, statement.values ?? []));
  return rows.map((r) => r['QUERY PLAN']).join('\n');
}

describe('the read side on PostgreSQL', () => {
  it('orders group ties and topics by bytes, as SQLite and memory do, whatever the database collation', async () => {
    const url = new URL(await pgs.database());
    const admin = new pg.Client({ connectionString: url.href });
    await admin.connect();
    try {
      // an ICU collation sorts 'ab' before 'Zeta' and passes over the '-' of 'a-b' at first: bytes do neither
      await admin.query(`CREATE DATABASE icu_en TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en' LOCALE 'C'`);
    } finally {
      await admin.end();
    }
    url.pathname = '/icu_en';
    const stores = await pgs.stores({ url: url.href });
    const ordered = await stores.transaction((tx) => tx.query<{ x: string }>(`SELECT x FROM (VALUES ('Zeta'), ('ab'), ('a-b')) v(x) ORDER BY x`));
    expect(ordered.map((r) => r.x), 'the database collation is not bytewise').toEqual(['a-b', 'ab', 'Zeta']);

    for (const group of ['ab', 'Zeta', 'a-b']) await stores.deadLetters.add(letter({ group, handler: `${group}:H` }));
    expect((await stores.deadLetters.groups()).map((g) => g.group)).toEqual(['Zeta', 'a-b', 'ab']);
    await stores.transaction((tx) => stores.outbox.append(tx, [record('ab', 1), record('Zeta', 2), record('a-b', 3)]));
    expect((await stores.outbox.backlog()).map((b) => b.topic)).toEqual(['Zeta', 'a-b', 'ab']);
  });

  it('reads bigints as numbers and pages on, also from a pool that returns them as strings', async () => {
    const pool = new pg.Pool({ connectionString: await pgs.database(), max: 2 });
    const stores = pgStores({ pool });
    try {
      const added = [letter({ lastFailureAt: 1_700_000_000_001 }), letter({ lastFailureAt: 1_700_000_000_002 }), letter({ lastFailureAt: 1_700_000_000_003 })];
      for (const l of added) await stores.deadLetters.add(l);
      const { rows } = await pool.query<{ seq: unknown }>('SELECT seq FROM herald.dead_letters LIMIT 1');
      expect(typeof rows[0]!.seq, 'this pool reads int8 as text').toBe('string');

      const first = await stores.deadLetters.page({ limit: 2 });
      expect(first.letters).toEqual(added.slice(0, 2));
      expect(await stores.deadLetters.page({ limit: 2, cursor: first.next! })).toEqual({ letters: added.slice(2), next: null });
      expect(await stores.deadLetters.count()).toBe(3);
      expect(await stores.deadLetters.groups()).toEqual([
        {
          group: 'billing',
          handler: 'billing:OrderPlaced',
          fingerprint: 'fp',
          reason: 'handler-failed',
          count: 3,
          firstFailureAt: 1_700_000_000_000,
          lastFailureAt: 1_700_000_000_003,
          sample: { id: added[2]!.id, message: added[2]!.error.message },
        },
      ]);
      await stores.transaction((tx) => stores.outbox.append(tx, [record('orders', 1_700_000_000_000), record('orders', 1_700_000_000_005)]));
      expect(await stores.outbox.backlog()).toEqual([{ topic: 'orders', pending: 2, oldestCreatedAt: 1_700_000_000_000 }]);
    } finally {
      await stores.close();
      await pool.end();
    }
  });

  it('takes fractional and far-off time bounds, meaning what they mean over whole ms', async () => {
    const stores = await pgs.stores();
    for (const at of [1000, 1001, 2000]) await stores.deadLetters.add(letter({ firstFailureAt: at, lastFailureAt: at }));
    expect(await stores.deadLetters.count({ since: 1000.5 })).toBe(2);
    expect(await stores.deadLetters.count({ until: 1000.5 })).toBe(1);
    expect(await stores.deadLetters.count({ since: 1001, until: 1999.9 })).toBe(1);
    expect(await stores.deadLetters.count({ since: -1e20, until: 1e20 })).toBe(3);
    expect(await stores.deadLetters.count({ since: 1e300 })).toBe(0);
    expect((await stores.deadLetters.page({ since: 1000.5 })).letters.map((l) => l.lastFailureAt)).toEqual([1001, 2000]);
    expect((await stores.deadLetters.groups({ until: 1000.000001 }))[0]?.count).toBe(1);
  });

  it('reads the open letters, a fingerprint and a time window through their indexes, not in seq order through all letters', async () => {
    const stores = await pgs.stores();
    // 20 000 letters, one a second; the newest 5% still open, the rest resolved, 200 fingerprints
    await stores.transaction(async (tx) => {
      await tx.execute(`INSERT INTO herald.dead_letters (id, group_name, handler, topic, partition, record_offset, key, reason, fingerprint, error,
          attempts, first_failure_at, last_failure_at, envelope, headers, policy, status, resolved_at)
        SELECT 'bulk-' || i, 'g' || i % 10, 'h', 'orders', 0, i, 'key-' || i, 'handler-failed', 'fp-' || i % 200, '{}', 1, i * 1000, i * 1000, '{}', '{}', 'skip',
          CASE WHEN i > 19000 THEN 'dead' ELSE 'redriven' END, CASE WHEN i > 19000 THEN NULL ELSE 1 END
        FROM generate_series(1, 20000) AS i`);
      await tx.execute('ANALYZE herald.dead_letters');
    });
    const readsThrough = async (statement: Statement, index: string) => {
      const plan = await explain(stores, statement);
      expect(plan).toMatch(new RegExp(`Index (Only )?Scan (using|on) ${index}\\b`));
      expect(plan, 'neither the whole table nor all letters in seq order').not.toMatch(/Seq Scan|dead_letters_pkey/);
    };
    const open = { status: ['dead', 'parked'] } as const;
    await readsThrough(pageDeadLetters(t, open).statement, 'dead_letters_open');
    await readsThrough(pageDeadLetters(t, { status: 'parked' }).statement, 'dead_letters_open');
    await readsThrough(countDeadLetters(t, open), 'dead_letters_open');
    await readsThrough(pageDeadLetters(t, { fingerprint: 'fp-7' }).statement, 'dead_letters_fingerprint');
    await readsThrough(countDeadLetters(t, { since: 19_900_000 }), 'dead_letters_last_failure');
    // and the answers are the ones the plans are for
    expect(await stores.deadLetters.count(open)).toBe(1000);
    expect((await stores.deadLetters.page({ ...open, limit: 2 })).letters.map((l) => l.id)).toEqual(['bulk-19001', 'bulk-19002']);
    expect(await stores.deadLetters.count({ fingerprint: 'fp-7' })).toBe(100);
    expect(await stores.deadLetters.count({ since: 19_900_000 })).toBe(101);
  });

  it('counts the outbox backlog from the pending records alone, however many published ones are kept', async () => {
    const stores = await pgs.stores();
    await stores.transaction(async (tx) => {
      await tx.execute(`INSERT INTO herald.outbox (id, topic, key, type, correlation_id, value, headers, created_at, published_at)
        SELECT 'r' || i, 'topic-' || i % 5, 'k', 'T', 'c', '{}', '{}', i, CASE WHEN i <= 50000 THEN i END
        FROM generate_series(1, 50100) AS i`);
      await tx.execute('ANALYZE herald.outbox');
    });
    const plan = await explain(stores, countOutboxBacklog(t));
    expect(plan).toMatch(/Index Scan using outbox_slot/);
    expect(plan, 'the outbox is read through its index (only the 16-row slot table is scanned)').not.toMatch(/Seq Scan on outbox /);
    expect(await stores.outbox.backlog()).toEqual([0, 1, 2, 3, 4].map((n) => ({ topic: `topic-${n}`, pending: 20, oldestCreatedAt: 50_001 + ((n + 4) % 5) })));
  });
});
