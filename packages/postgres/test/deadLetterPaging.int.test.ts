import { ErrorCodes, type DeadLetter, type DeadLetterBrowser, type DeadLetterPageRequest, type DeadLetterStore } from '@herald/core';
import { encodeDeadLetterCursor } from '@herald/sql';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { migrate } from '../src/index.js';
import { addDeadLetter } from '../src/internal/deadLetters/addDeadLetter.js';
import { pageDeadLetters } from '../src/internal/deadLetters/pageDeadLetters.js';
import { MIGRATIONS } from '../src/internal/migrations.js';
import { tablesFor } from '../src/internal/tables.js';
import { usePostgres } from './support.js';

const pgs = usePostgres();
const t = tablesFor('herald');

function letter(id: string, extra: Partial<DeadLetter> = {}): DeadLetter {
  return {
    id,
    group: 'audit',
    handler: 'audit:OrderPlaced',
    eventId: `ev-${id}`,
    eventType: 'OrderPlaced',
    topic: 'orders',
    partition: 0,
    offset: 1,
    key: `key-${id}`,
    reason: 'handler-failed',
    fingerprint: 'fp',
    error: { name: 'Error', message: `failure of ${id}` },
    attempts: 1,
    firstFailureAt: 1_700_000_000_000,
    lastFailureAt: 1_700_000_000_000,
    envelope: '{}',
    headers: {},
    policy: 'skip',
    status: 'dead',
    ...extra,
  };
}

/** Connections holding a transaction open; each test ends those it left (it failed), so no watermark outlives it. */
const connections = new Set<pg.Client>();
afterEach(async () => {
  for (const client of connections) await client.end().catch(() => {});
  connections.clear();
});

/** A connection of its own, in a transaction that has added `letters` (and taken an id) and stays open until it ends. */
async function openTransaction(url: string, letters: readonly DeadLetter[] = []) {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  await client.connect();
  connections.add(client);
  await client.query('BEGIN');
  await client.query('SELECT pg_current_xact_id()');
  for (const l of letters) await client.query(addDeadLetter(t, { letter: l, now: 0 }));
  const end = async (how: 'COMMIT' | 'ROLLBACK') => {
    await client.query(how);
    connections.delete(client);
    await client.end();
  };
  return { client, commit: () => end('COMMIT'), rollback: () => end('ROLLBACK') };
}

const ids = (letters: readonly DeadLetter[]) => letters.map((l) => l.id);

/** Follows `cursor` until a page says it is the last, returning every letter read. */
async function rest(store: DeadLetterBrowser, request: DeadLetterPageRequest, cursor: string | null): Promise<string[]> {
  const read: string[] = [];
  for (let pages = 0; cursor !== null; pages++) {
    if (pages === 100) throw new Error(`paging did not end: ${read.join(' ')}`);
    const page = await store.page({ ...request, cursor });
    read.push(...ids(page.letters));
    cursor = page.next;
  }
  return read;
}

describe('paging dead letters on PostgreSQL, whatever order their transactions commit in', () => {
  it('shows a letter whose transaction commits after a later letter was paged past', async () => {
    const url = await pgs.database();
    const stores = await pgs.stores({ url, maintenance: false });
    await stores.deadLetters.add(letter('x1'));
    const slow = await openTransaction(url, [letter('slow')]);
    const aborted = await openTransaction(url, [letter('aborted')]);
    await stores.deadLetters.add(letter('fast1'));
    await stores.deadLetters.add(letter('fast2'));
    const request = { group: 'audit', limit: 2 };
    const first = await stores.deadLetters.page(request);
    await slow.commit();
    await aborted.rollback();
    const read = [...ids(first.letters), ...(await rest(stores.deadLetters, request, first.next))];
    expect(read).toEqual(['x1', 'slow', 'fast1', 'fast2']);
    // the letters committed behind the open transaction waited for it: the first page stopped there
    expect(ids(first.letters)).toEqual(['x1']);
    expect(first.next).not.toBeNull();
  });

  it('never skips or repeats a letter, with many transactions committing in any order between pages', async () => {
    const url = await pgs.database();
    const stores = await pgs.stores({ url, maintenance: false });
    let seed = 7;
    const random = (n: number) => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) % n;
    const request: DeadLetterPageRequest = { group: 'audit', status: ['dead', 'parked'], limit: 2 };
    for (let round = 0; round < 4; round++) {
      const open: Awaited<ReturnType<typeof openTransaction>>[] = [];
      const matching: string[] = [];
      for (let i = 0; i < 6; i++) {
        const id = `r${round}-${i}`;
        // every third letter is one the request does not match
        const l = letter(id, i % 3 === 2 ? { group: 'other' } : i % 3 === 1 ? { status: 'parked' } : {});
        if (i % 3 !== 2) matching.push(id);
        open.push(await openTransaction(url, [l]));
        // and one committed at once, left open or resolved
        await stores.deadLetters.add(letter(`${id}-alone`));
        if (random(2) === 0) matching.push(`${id}-alone`);
        else await stores.deadLetters.setStatus([`${id}-alone`], 'redriven');
      }
      const read: string[] = [];
      const committed = new Set<string>();
      let cursor: string | null | undefined;
      for (let steps = 0; open.length > 0 || cursor !== null; steps++) {
        if (steps === 1000) throw new Error(`paging did not end: ${read.join(' ')}`);
        if (open.length > 0 && random(3) > 0) {
          const [ending] = open.splice(random(open.length), 1);
          await ending!.commit();
          continue;
        }
        if (cursor === null) continue;
        const page = await stores.deadLetters.page({ ...request, ...(cursor === undefined ? {} : { cursor }) });
        read.push(...ids(page.letters));
        cursor = page.next;
        if (cursor === null) for (const id of await matchingIds(stores.deadLetters)) committed.add(id);
      }
      expect(new Set(read).size, `no letter read twice: ${read.join(' ')}`).toBe(read.length);
      // every letter committed before the last page was read is on some page
      expect([...committed].filter((id) => !read.includes(id))).toEqual([]);
      for (const id of read) expect(matching).toContain(id);
      await stores.deadLetters.setStatus(matching, 'redriven');
    }
  });

  it('stops a page at a long transaction of another database instead of waiting, and continues from there once it ends', async () => {
    const url = await pgs.database();
    const stores = await pgs.stores({ url, maintenance: false });
    await stores.deadLetters.add(letter('before'));
    const batchJob = await openTransaction(await pgs.database());
    await batchJob.client.query('CREATE TABLE scratch (a int)');
    await stores.deadLetters.add(letter('during1'));
    await stores.deadLetters.add(letter('during2'));
    const first = await stores.deadLetters.page({ limit: 10 });
    expect(ids(first.letters)).toEqual(['before']);
    expect(first.next).not.toBeNull();
    // while it lasts, the cursor makes no progress and returns at once
    const again = await stores.deadLetters.page({ limit: 10, cursor: first.next! });
    expect(again).toEqual({ letters: [], next: first.next });
    // the letters are there for whatever does not page
    expect(await stores.deadLetters.count({})).toBe(3);
    await batchJob.commit();
    const after = await stores.deadLetters.page({ limit: 10, cursor: first.next! });
    expect(after).toEqual({ letters: expect.any(Array), next: null });
    expect(ids(after.letters)).toEqual(['during1', 'during2']);
  });

  it('never moves a cursor back to a watermark behind it (a replica lagging the primary that made it)', async () => {
    const url = await pgs.database();
    const stores = await pgs.stores({ url, maintenance: false });
    const batchJob = await openTransaction(url);
    for (const id of ['held1', 'held2']) await stores.deadLetters.add(letter(id));
    // the position after held1, as a snapshot past batchJob's would have made it
    const { rows } = await batchJob.client.query<{ txid: string; seq: string }>(`SELECT txid::text, seq FROM ${t.deadLetters} WHERE id = 'held1'`);
    const ahead = Buffer.from(`dl2:${rows[0]!.txid}.${rows[0]!.seq}`, 'utf8').toString('base64url');
    const page = await stores.deadLetters.page({ cursor: ahead });
    expect(page).toEqual({ letters: [], next: ahead });
    await batchJob.commit();
    expect(await rest(stores.deadLetters, {}, page.next)).toEqual(['held2']);
  });

  it('ends the paging when no committed letter is held back, a full page going on after its last letter', async () => {
    const stores = await pgs.stores({ maintenance: false });
    for (const id of ['a', 'b', 'c']) await stores.deadLetters.add(letter(id));
    // added again: it stays as it was, in its place
    expect(await stores.deadLetters.add(letter('a', { attempts: 2 }))).toMatchObject({ id: 'a', attempts: 1 });
    const first = await stores.deadLetters.page({ limit: 2 });
    expect(ids(first.letters)).toEqual(['a', 'b']);
    const second = await stores.deadLetters.page({ limit: 2, cursor: first.next! });
    expect(second).toEqual({ letters: [expect.objectContaining({ id: 'c' })], next: null });
    expect(await stores.deadLetters.page({ limit: 3 })).toMatchObject({ next: null });
  });

  it('upgrades letters of version 13 to the front, in the order they were added, and continues an earlier release cursor', async () => {
    const url = await pgs.database();
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      await admin.query(`CREATE SCHEMA herald; CREATE TABLE ${t.migrations} (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
      for (const m of MIGRATIONS.filter((m) => m.version <= 13)) await admin.query(`${m.sql(t)}; INSERT INTO ${t.migrations} (version, name) VALUES (${m.version}, 'v${m.version}')`);
      for (const id of ['old1', 'old2', 'old3']) await admin.query(addDeadLetter(t, { letter: letter(id), now: 0 }));
      const { rows } = await admin.query<{ seq: string }>(`SELECT seq FROM ${t.deadLetters} WHERE id = 'old1'`);
      await migrate({ connectionString: url });
      const stores = await pgs.stores({ url, maintenance: false });
      await stores.deadLetters.add(letter('new1'));
      expect(ids((await stores.deadLetters.page()).letters)).toEqual(['old1', 'old2', 'old3', 'new1']);
      // the earlier release's cursor after old1
      const earlier = encodeDeadLetterCursor(rows[0]!.seq);
      expect(await rest(stores.deadLetters, {}, earlier)).toEqual(['old2', 'old3', 'new1']);
    } finally {
      await admin.end();
    }
  });

  it("walks a group's letters and all letters through their (txid, seq) indexes, from the cursor on", async () => {
    const stores = await pgs.stores({ maintenance: false });
    // 20 000 letters in 100 groups, of 200 transactions long ended (ids below any the cluster runs now)
    await stores.transaction(async (tx) => {
      await tx.execute(`INSERT INTO herald.dead_letters (id, group_name, handler, topic, partition, record_offset, key, reason, fingerprint, error,
          attempts, first_failure_at, last_failure_at, envelope, headers, policy, status, resolved_at, txid)
        SELECT 'bulk-' || i, 'g' || i % 100, 'h', 'orders', 0, i, 'key-' || i, 'handler-failed', 'fp-' || i % 200, '{}', 1, i * 1000, i * 1000, '{}', '{}', 'skip',
          'redriven', 1, (i / 100)::text::xid8
        FROM generate_series(1, 20000) AS i`);
      await tx.execute('ANALYZE herald.dead_letters');
    });
    const first = await stores.deadLetters.page({ group: 'g3', status: 'redriven', limit: 2 });
    expect(ids(first.letters)).toEqual(['bulk-3', 'bulk-103']);
    for (const [request, index] of [
      [{ group: 'g3', status: 'redriven', cursor: first.next! }, 'dead_letters_group'],
      [{ cursor: first.next! }, 'dead_letters_txid'],
      [{}, 'dead_letters_txid'],
    ] as const) {
      const { statement } = pageDeadLetters(t, request);
      const plan = (await stores.transaction((tx) => tx.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${statement.text}`, statement.values ?? []))).map((r) => r['QUERY PLAN']).join('\n');
      expect(plan).toMatch(new RegExp(`^Limit .*\\n\\s+->  Index Scan using ${index} `));
      expect(plan, 'neither the whole table nor a sort').not.toMatch(/Seq Scan|Sort/);
    }
    expect(ids((await stores.deadLetters.page({ group: 'g3', status: 'redriven', limit: 2, cursor: first.next! })).letters)).toEqual(['bulk-203', 'bulk-303']);
  });

  it('refuses a cursor it did not make with invalid-options', async () => {
    const stores = await pgs.stores({ maintenance: false });
    const made = (text: string) => Buffer.from(text, 'utf8').toString('base64url');
    for (const cursor of ['', 'nonsense', made('dl2:1'), made('dl2:01.1'), made('dl2:1.-1'), made(`dl2:${2n ** 64n}.1`), made(`dl2:1.${2n ** 63n}`), `${made('dl2:1.1')}=`]) {
      await expect(stores.deadLetters.page({ cursor }), cursor).rejects.toMatchObject({ code: ErrorCodes.invalidOptions });
    }
    expect(await stores.deadLetters.page({ cursor: made(`dl2:${2n ** 64n - 1n}.${2n ** 63n - 1n}`) })).toEqual({ letters: [], next: null });
  });
});

/** Every letter of group `audit` still open: what the paged request matches, read whole. */
async function matchingIds(store: DeadLetterStore): Promise<string[]> {
  return ids((await store.list({ group: 'audit' })).filter((l) => l.status === 'dead' || l.status === 'parked'));
}
