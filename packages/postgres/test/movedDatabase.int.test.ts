import { HeraldError, type DeadLetter, type Logger, type OutboxRecord } from '@herald/core';
import { selectLetters } from '@herald/cli';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { migrate, PgErrorCodes, pgStores, type PgStores } from '../src/index.js';
import { spiedPool, usePostgres } from './support.js';

// A database copied to another cluster (pg_dump/pg_restore, logical replication) keeps its txid
// values, which the new cluster's counter is far below. The copy is simulated as the reviewer did
// it: every transaction id in Herald's tables raised far above this cluster's counter (order kept).
const pgs = usePostgres();

const FOREIGN = 4_000_000_000n;

/** Raises every non-zero txid of the stores' tables by FOREIGN, as a copy from a busier cluster would have them. */
async function simulateMove(url: string, options: { resetSequences?: boolean } = {}): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const raise = (column: string) => `${column} = CASE WHEN ${column} = '0'::xid8 THEN ${column} ELSE (${column}::text::numeric + ${FOREIGN})::text::xid8 END`;
  try {
    await client.query(`UPDATE herald.outbox SET ${raise('txid')}`);
    await client.query(`UPDATE herald.outbox_slots SET ${raise('published_txid')}`);
    await client.query(`UPDATE herald.outbox_marks SET ${raise('up_to_txid')}`);
    await client.query(`UPDATE herald.dead_letters SET ${raise('txid')}`);
    // logical replication copies no sequence: the new cluster's start at 1
    if (options.resetSequences) await client.query(`SELECT setval('herald.outbox_seq_seq', 1, false), setval('herald.dead_letters_seq_seq', 1, false)`);
  } finally {
    await client.end();
  }
}

async function query<Row extends pg.QueryResultRow>(url: string, text: string, values: unknown[] = []): Promise<Row[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<Row>(text, values)).rows;
  } finally {
    await client.end();
  }
}

function warningsLogger(): Logger & { warnings: { message: string; fields?: Record<string, unknown> }[] } {
  const warnings: { message: string; fields?: Record<string, unknown> }[] = [];
  const logger = { warnings, debug() {}, info() {}, error() {}, warn: (message: string, fields?: Record<string, unknown>) => void warnings.push({ message, fields }), child: () => logger };
  return logger;
}

const record = (key: string, id: string): OutboxRecord => ({ id, topic: 'orders', key, type: 'T', correlationId: 'moved', value: '{}', headers: {}, createdAt: 1 });
const claimAll = { relayId: 'relay-b', limit: 1000, leaseMs: 60_000 };

/** Keys that hash to distinct outbox slots, so every slot case below is exercised. */
async function keysInDistinctSlots(url: string, n: number): Promise<string[]> {
  const rows = await query<{ k: string; slot: number }>(url, `SELECT k, (hashtextextended(k, 0) & 15)::int AS slot FROM unnest($1::text[]) WITH ORDINALITY AS u(k, i) ORDER BY i`, [
    Array.from({ length: 200 }, (_, i) => `key-${i}`),
  ]);
  const seen = new Set<number>();
  return rows.filter((r) => !seen.has(r.slot) && seen.add(r.slot)).slice(0, n).map((r) => r.k);
}

/** Appends one record per transaction, round by round over the keys: a key's records in id order. */
async function appendRounds(stores: PgStores, keys: readonly string[], rounds: readonly string[]): Promise<OutboxRecord[]> {
  const all: OutboxRecord[] = [];
  for (const round of rounds) {
    for (const key of keys) {
      const r = record(key, `${key}/${round}`);
      await stores.transaction((tx) => stores.outbox.append(tx, [r]));
      all.push(r);
    }
  }
  return all;
}

/** Claims and publishes until nothing is left, returning the ids in the order they were claimed. */
async function relayAll(stores: PgStores): Promise<string[]> {
  const sent: string[] = [];
  for (;;) {
    const claimed = await stores.outbox.claim(claimAll);
    if (claimed.length === 0) return sent;
    sent.push(...claimed.map((r) => r.id));
    await stores.outbox.markPublished(claimAll.relayId, claimed.map((r) => r.id));
  }
}

const perKey = (ids: readonly string[]) => {
  const by = new Map<string, string[]>();
  for (const id of ids) {
    const key = id.split('/')[0]!;
    by.set(key, [...(by.get(key) ?? []), id]);
  }
  return Object.fromEntries([...by].sort(([a], [b]) => (a < b ? -1 : 1)));
};

describe('a database moved to another cluster', () => {
  it('relays every unpublished outbox record once, in its order per key, and every record appended after the move', async () => {
    const url = await pgs.database();
    const keys = await keysInDistinctSlots(url, 6);
    const [k0, k1, k2, k3, k4, k5] = keys as [string, string, string, string, string, string];
    const before = await pgs.stores({ url, maintenance: false });
    const appended = await appendRounds(before, keys, ['1', '2', '3']);
    // published by the watermark: k0 and k1 whole, k2's first two; out of order (past a gap): k3's second
    const claimed = await before.outbox.claim({ relayId: 'relay-a', limit: 1000, leaseMs: 60_000 });
    expect(claimed).toHaveLength(appended.length);
    const published = [`${k0}/1`, `${k0}/2`, `${k0}/3`, `${k1}/1`, `${k1}/2`, `${k1}/3`, `${k2}/1`, `${k2}/2`, `${k3}/2`];
    await before.outbox.markPublished('relay-a', published);
    await before.outbox.release('relay-a', appended.map((r) => r.id).filter((id) => !published.includes(id)));
    await before.close();
    const unpublished = appended.map((r) => r.id).filter((id) => !published.includes(id));
    expect(unpublished).toEqual([`${k3}/1`, `${k4}/1`, `${k5}/1`, `${k4}/2`, `${k5}/2`, `${k2}/3`, `${k3}/3`, `${k4}/3`, `${k5}/3`]);

    await simulateMove(url);
    // stores that may not repair (the CLI's) refuse, and change nothing
    const cli = await pgs.stores({ url, migrate: false, maintenance: false }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(cli).toBeInstanceOf(HeraldError);
    expect((cli as HeraldError).code).toBe(PgErrorCodes.foreignIds);
    expect((cli as HeraldError).details).toMatchObject({ outboxRows: 17, watermarks: 3 });
    expect((cli as HeraldError).message).toContain('17 outbox rows, 3 outbox slot watermarks');

    const logger = warningsLogger();
    const after = await pgs.stores({ url, logger, maintenance: false });
    expect(logger.warnings).toHaveLength(1);
    expect(logger.warnings[0]!.fields).toMatchObject({ outboxRows: 17, watermarks: 3, slots: 6, stamped: 8, renumbered: 9 });
    // nothing is left at or above the counter; stores that may not repair open now
    expect(await query(url, `SELECT txid FROM herald.outbox WHERE txid >= pg_snapshot_xmax(pg_current_snapshot()) AND published_at IS NULL`)).toEqual([]);
    await pgs.stores({ url, migrate: false, maintenance: false });

    const added = await appendRounds(after, keys, ['4']);
    const sent = await relayAll(after);
    // each record not published before the move, and each new one, exactly once, in order per key
    expect(perKey(sent)).toEqual(perKey([...unpublished, ...added.map((r) => r.id)]));
    expect(sent).toHaveLength(unpublished.length + added.length);
    // what was published before keeps a publication time; everything is published now
    const entries = await after.outbox.findByCorrelation('moved');
    expect(entries).toHaveLength(appended.length + added.length);
    for (const entry of entries) expect(entry.publishedAt, entry.id).not.toBeNull();
    // and a later append is relayed at once
    await appendRounds(after, [k0], ['5']);
    expect(await relayAll(after)).toEqual([`${k0}/5`]);
  });

  it('pages every dead letter again, in its order, and a CLI selection completes', async () => {
    const url = await pgs.database();
    const before = await pgs.stores({ url, maintenance: false });
    const letters = Array.from({ length: 7 }, (_, i) => letter(i + 1));
    for (const l of letters) await before.deadLetters.add(l);
    await before.close();
    const order = letters.map((l) => l.id);

    await simulateMove(url);
    const after = await pgs.stores({ url, maintenance: false, logger: warningsLogger() });
    const paged: string[] = [];
    let cursor: string | undefined;
    // held back behind nothing: a page that stays empty but goes on is the failure
    for (let pages = 0; pages < 10; pages++) {
      const page = await after.deadLetters.page({ group: 'billing', limit: 3, ...(cursor ? { cursor } : {}) });
      paged.push(...page.letters.map((l) => l.id));
      cursor = page.next ?? undefined;
      if (!cursor) break;
    }
    expect(cursor).toBeUndefined();
    expect(paged).toEqual(order);

    const added = letter(8);
    await after.deadLetters.add(added);
    const selected = await selectLetters(after.deadLetters, { ids: [], query: { group: 'billing' }, statuses: ['dead'] }, { heldBackMs: 2_000 });
    expect(selected.map((l) => l.id)).toEqual([...order, added.id]);
  });

  it('continues the seqs above the copied rows when the copy brought no sequences (logical replication)', async () => {
    const url = await pgs.database();
    const before = await pgs.stores({ url, maintenance: false });
    const appended = await appendRounds(before, ['a', 'b', 'c'], ['1', '2', '3']);
    await before.outbox.markPublished('relay-a', appended.slice(0, 4).map((r) => r.id));
    for (const n of [1, 2, 3]) await before.deadLetters.add(letter(n));
    await before.close();

    await simulateMove(url, { resetSequences: true });
    const after = await pgs.stores({ url, maintenance: false, logger: warningsLogger() });
    const added = await appendRounds(after, ['a', 'b', 'c', 'd'], ['4', '5']);
    expect(perKey(await relayAll(after))).toEqual(perKey([...appended.slice(4), ...added].map((r) => r.id)));
    for (const n of [4, 5, 6, 7]) await after.deadLetters.add(letter(n));
    expect((await after.deadLetters.page({ group: 'billing' })).letters.map((l) => l.offset)).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('relays a record a process left running appended below a copied watermark (its slot swept), after the copied ones of its key', async () => {
    const url = await pgs.database();
    const [k0, k1] = (await keysInDistinctSlots(url, 2)) as [string, string];
    const running = await pgs.stores({ url, maintenance: false });
    const appended = await appendRounds(running, [k0, k1], ['1', '2']);
    // k0's slot drained by its watermark; k1's second record still waits
    await running.outbox.claim(claimAll);
    await running.outbox.markPublished(claimAll.relayId, [`${k0}/1`, `${k0}/2`, `${k1}/1`]);
    await running.outbox.release(claimAll.relayId, [`${k1}/2`]);
    // retention swept k0's published rows: an append there takes its own txid, not a copied one
    await query(url, `DELETE FROM herald.outbox WHERE key = $1`, [k0]);

    await simulateMove(url);
    // a process of the previous release, or one left running across the switch, appends on the new
    // cluster without repairing: its own txid lies below k0's copied watermark
    const late = await appendRounds(running, [k0, k1], ['3']);
    await running.close();

    const after = await pgs.stores({ url, maintenance: false, logger: warningsLogger() });
    const sent = await relayAll(after);
    expect(perKey(sent)).toEqual(perKey([`${k1}/2`, ...late.map((r) => r.id)]));
    expect(sent).toHaveLength(3);
    expect(appended).toHaveLength(4);
  });

  it('sets both sequences past the copied rows also when nothing was pending (a drained outbox, logical replication)', async () => {
    const url = await pgs.database();
    const before = await pgs.stores({ url, maintenance: false });
    await appendRounds(before, ['a', 'b'], ['1', '2']);
    expect(await relayAll(before)).toHaveLength(4);
    await before.deadLetters.add(letter(1));
    await before.close();

    await simulateMove(url, { resetSequences: true });
    const after = await pgs.stores({ url, maintenance: false, logger: warningsLogger() });
    const added = await appendRounds(after, ['a', 'b'], ['3']);
    expect(perKey(await relayAll(after))).toEqual(perKey(added.map((r) => r.id)));
    await after.deadLetters.add(letter(2));
    expect((await after.deadLetters.page({ group: 'billing' })).letters.map((l) => l.offset)).toEqual([1, 2]);
  });

  it('changes nothing and locks nothing on a database that never moved', async () => {
    const url = await pgs.database();
    const stores = await pgs.stores({ url, maintenance: false });
    await appendRounds(stores, ['a', 'b'], ['1', '2']);
    const claimed = await stores.outbox.claim(claimAll);
    await stores.outbox.markPublished(claimAll.relayId, claimed.slice(0, 2).map((r) => r.id));
    await stores.deadLetters.add(letter(1));
    await stores.close();
    const snapshot = async () => ({
      outbox: await query(url, `SELECT id, txid::text, seq, published_at FROM herald.outbox ORDER BY seq`),
      slots: await query(url, `SELECT slot, published_txid::text, published_seq FROM herald.outbox_slots ORDER BY slot`),
      marks: await query(url, `SELECT slot, up_to_txid::text, up_to_seq FROM herald.outbox_marks ORDER BY slot, up_to_txid, up_to_seq`),
      letters: await query(url, `SELECT id, txid::text, seq FROM herald.dead_letters ORDER BY seq`),
    });
    const was = await snapshot();

    const { pool, sent } = spiedPool(url);
    try {
      expect(await migrate({ pool })).toEqual({ applied: [], version: expect.any(Number) as number });
      const logger = warningsLogger();
      for (const migrateOn of [true, false]) {
        const stores = pgStores({ pool, logger, migrate: migrateOn, maintenance: false });
        await stores.ready();
        await stores.close();
      }
      expect(logger.warnings).toEqual([]);
      expect(sent.filter((text) => /\bLOCK\b|\bUPDATE\b|\bBEGIN\b/i.test(text))).toEqual([]);
    } finally {
      await pool.end();
    }
    expect(await snapshot()).toEqual(was);
  });
});

function letter(n: number): DeadLetter {
  return {
    id: `0190b000-0000-7000-8000-${String(n).padStart(12, '0')}`,
    group: 'billing',
    handler: 'billing:Invoice',
    eventId: `e${n}`,
    eventType: 'Invoice',
    topic: 'invoices',
    partition: 0,
    offset: n,
    key: `k${n % 3}`,
    reason: 'handler-failed',
    fingerprint: 'fp',
    error: { name: 'Error', message: 'boom' },
    attempts: 3,
    firstFailureAt: 1_000 + n,
    lastFailureAt: 1_000 + n,
    envelope: `{"id":"e${n}"}`,
    headers: {},
    policy: 'skip',
    status: 'dead',
  };
}
