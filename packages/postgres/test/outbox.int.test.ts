import type { OutboxRecord } from '@herald/core';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { appendOutbox } from '../src/internal/outbox/appendOutbox.js';
import { tablesFor } from '../src/internal/tables.js';
import { eventually, usePostgres } from './support.js';

const pgs = usePostgres();

let counter = 0;
function record(key: string, extra: Partial<OutboxRecord> = {}): OutboxRecord {
  const n = ++counter;
  return { id: `e${n}`, topic: 'orders', key, type: 'T', correlationId: `c-${key}`, value: `${key}#${n}`, headers: { n: String(n) }, createdAt: n, ...extra };
}

const claim = (relayId: string, limit = 100, leaseMs = 30_000) => ({ relayId, limit, leaseMs });

describe('outbox', () => {
  it('claims in append order, whole keys, and keeps a claimed key from every other relay', async () => {
    const stores = await pgs.stores();
    const [a1, b1, a2, c1, b2] = [record('a'), record('b'), record('a'), record('c'), record('b')];
    await stores.transaction((tx) => stores.outbox.append(tx, [a1!, b1!, a2!]));
    await stores.transaction((tx) => stores.outbox.append(tx, [c1!, b2!]));

    const first = await stores.outbox.claim(claim('r1', 3));
    expect(first.map((r) => r.id)).toEqual([a1!.id, b1!.id, a2!.id]);
    expect(first[0]).toEqual(a1);

    // r2 gets key c only: a is r1's, and b's head is r1's, so b2 waits behind it
    const second = await stores.outbox.claim(claim('r2'));
    expect(second.map((r) => r.id)).toEqual([c1!.id]);

    // a record appended later to a claimed key goes to nobody else either
    const a3 = record('a');
    await stores.transaction((tx) => stores.outbox.append(tx, [a3]));
    expect(await stores.outbox.claim(claim('r3'))).toEqual([]);

    // marking ends r1's claim on a and b: the rest of those keys is free again, in order
    await stores.outbox.markPublished('r1', first.map((r) => r.id));
    expect((await stores.outbox.claim(claim('r3'))).map((r) => r.id)).toEqual([b2!.id, a3.id]);
  });

  it('gives a key to another relay once the claim is released or its lease lapses', async () => {
    const stores = await pgs.stores();
    const [x, y] = [record('x'), record('y')];
    await stores.transaction((tx) => stores.outbox.append(tx, [x, y]));
    const held = await stores.outbox.claim(claim('r1', 1));
    expect(held.map((r) => r.id)).toEqual([x.id]);
    await stores.outbox.release('r2', [x.id]); // someone else's claim: no effect
    expect((await stores.outbox.claim(claim('r2'))).map((r) => r.id)).toEqual([y.id]);
    await stores.outbox.release('r1', [x.id]);
    expect((await stores.outbox.claim(claim('r3'))).map((r) => r.id)).toEqual([x.id]);

    // r3 holds x for 300 ms only; until then, nobody else gets it
    await stores.outbox.release('r3', [x.id]);
    expect((await stores.outbox.claim(claim('r3', 10, 300))).map((r) => r.id)).toEqual([x.id]);
    expect(await stores.outbox.claim(claim('r4'))).toEqual([]);
    let lapsed: readonly OutboxRecord[] = [];
    await eventually(async () => (lapsed = await stores.outbox.claim(claim('r4')).then((r) => r.filter((e) => e.key === 'x'))).length > 0, { what: 'the lease to lapse' });
    expect(lapsed.map((r) => r.id)).toEqual([x.id]);
    // the same relay claiming again gets its own claim back (renewal)
    expect((await stores.outbox.claim(claim('r4'))).map((r) => r.id)).toEqual([x.id]);
  });

  it('stops a batch at the limit mid-key and hands the rest of the key out only after the mark', async () => {
    const stores = await pgs.stores();
    const rows = Array.from({ length: 5 }, () => record('k'));
    await stores.transaction((tx) => stores.outbox.append(tx, rows));
    const batch = await stores.outbox.claim(claim('r1', 3));
    expect(batch.map((r) => r.id)).toEqual(rows.slice(0, 3).map((r) => r.id));
    expect(await stores.outbox.claim(claim('r2'))).toEqual([]);
    await stores.outbox.markPublished('r1', batch.map((r) => r.id));
    expect((await stores.outbox.claim(claim('r2'))).map((r) => r.id)).toEqual(rows.slice(3).map((r) => r.id));
  });

  it('looks past a backlog of keys other relays hold to find claimable keys behind it', async () => {
    const stores = await pgs.stores();
    // 300 records of one hot key fill the first claim windows (2 x limit, at least 100 rows)
    const hot = Array.from({ length: 300 }, () => record('hot'));
    const behind = ['p', 'q', 'r'].map((key) => record(key));
    await stores.transaction((tx) => stores.outbox.append(tx, [...hot, ...behind]));
    expect((await stores.outbox.claim(claim('r1', 10))).map((r) => r.id)).toEqual(hot.slice(0, 10).map((r) => r.id));
    expect((await stores.outbox.claim(claim('r2', 10))).map((r) => r.id)).toEqual(behind.map((r) => r.id));
    expect(await stores.outbox.claim(claim('r3', 10))).toEqual([]);
  });

  it('claims per key even when a transaction commits an earlier sequence number late', async () => {
    const stores = await pgs.stores();
    // T1 takes the earlier seq for key z but commits after T2: a row claim would hand z's two
    // records to two relays at once
    let commitT1!: () => void;
    let appendedT1!: () => void;
    const t1Appended = new Promise<void>((resolve) => (appendedT1 = resolve));
    const t1 = stores.transaction(async (tx) => {
      await stores.outbox.append(tx, [record('z', { id: 'late' })]);
      appendedT1();
      await new Promise<void>((resolve) => (commitT1 = resolve));
    });
    await t1Appended;
    await stores.transaction((tx) => stores.outbox.append(tx, [record('z', { id: 'early' })]));
    expect((await stores.outbox.claim(claim('r1'))).map((r) => r.id)).toEqual(['early']);
    commitT1();
    await t1;
    expect(await stores.outbox.claim(claim('r2'))).toEqual([]);
    await stores.outbox.markPublished('r1', ['early']);
    expect((await stores.outbox.claim(claim('r2'))).map((r) => r.id)).toEqual(['late']);
  });

  it("relays a key's records in commit order, not in the order their transactions took their ids", async () => {
    const stores = await pgs.stores();
    // T1 takes its transaction id first (any write does), T2 commits an event of key w, then T1
    // appends w's next event and commits: T2's event was first, whatever the ids say
    let appendT1!: () => void;
    let idTaken!: () => void;
    const taken = new Promise<void>((resolve) => (idTaken = resolve));
    const t1 = stores.transaction(async (tx) => {
      await tx.query('SELECT pg_current_xact_id()');
      idTaken();
      await new Promise<void>((resolve) => (appendT1 = resolve));
      await stores.outbox.append(tx, [record('w', { id: 'second' })]);
    });
    await taken;
    await stores.transaction((tx) => stores.outbox.append(tx, [record('w', { id: 'first' })]));
    appendT1();
    await t1;
    expect((await stores.outbox.claim(claim('r1'))).map((r) => r.id)).toEqual(['first', 'second']);
  });

  it('relays events in the order of the state changes they report when writers of the same rows overlap', async () => {
    const stores = await pgs.stores({ poolSize: 12 });
    const keys = ['acct-1', 'acct-2', 'acct-3', 'acct-4', 'acct-5', 'acct-6'];
    await stores.transaction((tx) => tx.execute('CREATE TABLE accounts (key text PRIMARY KEY, version integer NOT NULL)'));
    await stores.transaction((tx) => tx.execute('INSERT INTO accounts SELECT unnest($1::text[]), 0', [keys]));
    // each transaction takes its id, waits a little, then bumps the version of one or two accounts
    // (row locks: the bumps of an account commit in version order) and reports each new version
    async function writer(): Promise<void> {
      for (let i = 0; i < 25; i++) {
        const picked = [...new Set([keys[Math.floor(Math.random() * keys.length)]!, keys[Math.floor(Math.random() * keys.length)]!])].sort();
        await stores.transaction(async (tx) => {
          await tx.query('SELECT pg_current_xact_id()');
          await new Promise((resolve) => setTimeout(resolve, Math.random() * 3));
          const events: OutboxRecord[] = [];
          for (const key of picked) {
            const [row] = await tx.query<{ version: number }>('UPDATE accounts SET version = version + 1 WHERE key = $1 RETURNING version', [key]);
            events.push(record(key, { value: String(row!.version) }));
          }
          await stores.outbox.append(tx, events.reverse());
        });
      }
    }
    await Promise.all(Array.from({ length: 8 }, writer));
    const relayed = new Map<string, number[]>();
    for (let batch = await stores.outbox.claim(claim('r1', 50)); batch.length > 0; batch = await stores.outbox.claim(claim('r1', 50))) {
      for (const r of batch) relayed.set(r.key, [...(relayed.get(r.key) ?? []), Number(r.value)]);
      await stores.outbox.markPublished('r1', batch.map((r) => r.id));
    }
    const versions = await stores.transaction((tx) => tx.query<{ key: string; version: number }>('SELECT key, version FROM accounts ORDER BY key'));
    expect(versions.reduce((sum, v) => sum + v.version, 0)).toBeGreaterThan(8 * 25);
    for (const { key, version } of versions) {
      expect({ key, versions: relayed.get(key) ?? [] }).toEqual({ key, versions: Array.from({ length: version }, (_, i) => i + 1) });
    }
  });

  it('waits for a rival taking a slot, then leaves that slot to it and takes the others', async () => {
    const url = await pgs.database();
    const stores = await pgs.stores({ url });
    const rival = new pg.Client({ connectionString: url });
    await rival.connect();
    try {
      // two keys in different slots (the slot is a hash of the key, computed by PostgreSQL)
      const slotOf = async (key: string) => Number((await rival.query<{ s: number }>(`SELECT (hashtextextended($1, 0) & 15)::int AS s`, [key])).rows[0]!.s);
      let free = 'free-0';
      for (let i = 0; (await slotOf(free)) === (await slotOf('k')); i++) free = `free-${i + 1}`;
      const [k1, free1, k2] = [record('k'), record(free), record('k')];
      await stores.transaction((tx) => stores.outbox.append(tx, [k1, free1, k2]));
      // the rival's lease is not committed when r1 locks the slots: r1 waits for it, then sees it
      await rival.query('BEGIN');
      await rival.query(`UPDATE herald.outbox_slots SET relay_id = 'rival', lease_expires_at = 9e15 WHERE slot = $1`, [await slotOf('k')]);
      const claimed = stores.outbox.claim(claim('r1'));
      await eventually(
        async () => (await rival.query(`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`)).rowCount === 1,
        { what: "r1's claim to wait for the rival's slot" },
      );
      await rival.query('COMMIT');
      expect((await claimed).map((r) => r.id)).toEqual([free1.id]);
    } finally {
      await rival.end();
    }
  });

  it('stores every text a call of many records carries as it was, through JSON arrays or, with a surrogate or a NUL, text[] arrays', async () => {
    const stores = await pgs.stores();
    const t = tablesFor('herald');
    const texts = ['quote " and backslash \\ and \\u0041', 'new\nline\ttab', 'é, €, 中文', 'null', '[1,"x"]', ' spaced ', ''];
    // through JSON arrays: every column's text, headers with JSON's own specials, timestamps past 2^32
    const plain = texts.map((text, i) =>
      record(`k ${text}`, { correlationId: `c ${text}`, type: `T${i}`, value: JSON.stringify({ text }), headers: i % 2 ? { note: text } : {}, createdAt: 1_700_000_000_000 + i }),
    );
    expect(appendOutbox(t, plain).name).toMatch(/append_outbox_json$/);
    // a paired surrogate (an emoji) goes as text[] arrays and reads back the same
    const emoji = [record('key 🎟️'), record('plain', { correlationId: 'flow 🎫' })];
    expect(appendOutbox(t, emoji).name).toMatch(/append_outbox$/);
    await stores.transaction((tx) => stores.outbox.append(tx, plain));
    await stores.transaction((tx) => stores.outbox.append(tx, emoji));
    const claimed = await stores.outbox.claim(claim('r1', 100));
    expect(claimed).toEqual([...plain, ...emoji]);

    // a NUL is refused by PostgreSQL's text whichever way it goes, and the call's records with it
    const withNul = [record('ok'), record('bad\u0000key')];
    expect(appendOutbox(t, withNul).name).toMatch(/append_outbox$/);
    await expect(stores.transaction((tx) => stores.outbox.append(tx, withNul))).rejects.toThrow();
    await stores.outbox.markPublished('r1', claimed.map((r) => r.id));
    expect(await stores.outbox.claim(claim('r2', 100))).toEqual([]);
  });

  it('keeps published records for workflow views, ignores a repeated event id, and sweeps after the retention', async () => {
    const stores = await pgs.stores({ outboxRetentionMs: 200 });
    const [p1, p2] = [record('w', { correlationId: 'flow' }), record('w', { correlationId: 'flow' })];
    await stores.transaction((tx) => stores.outbox.append(tx, [p1, p2]));
    await stores.transaction((tx) => stores.outbox.append(tx, [{ ...p1, value: 'again' }]));
    const batch = await stores.outbox.claim(claim('r1'));
    expect(batch.map((r) => r.value)).toEqual([p1.value, p2.value]);
    const before = Date.now();
    await stores.outbox.markPublished('r1', [p1.id]);
    const view = await stores.outbox.findByCorrelation('flow');
    expect(view.map((e) => [e.id, e.publishedAt === null])).toEqual([[p1.id, false], [p2.id, true]]);
    expect(view[0]!.publishedAt).toBeGreaterThanOrEqual(before - 1000);
    expect(view[0]).toMatchObject({ ...p1, publishedAt: expect.any(Number) });

    expect((await stores.sweepRetention()).outbox).toBe(0);
    await eventually(async () => (await stores.sweepRetention()).outbox === 1, { what: 'the published record to age past the retention' });
    expect((await stores.outbox.findByCorrelation('flow')).map((e) => e.id)).toEqual([p2.id]);
  });

  it('keeps per-key order with three relays claiming concurrently while producers append', async () => {
    const stores = await pgs.stores({ poolSize: 16 });
    const keys = 150;
    const perKey = 20;
    const producers = 6;
    const published: { relay: string; key: string; n: number }[] = [];
    const holders = new Map<string, string>();
    const violations: string[] = [];
    let producing = true;

    async function produce(p: number): Promise<void> {
      const mine = Array.from({ length: keys }, (_, k) => `key-${k}`).filter((_, k) => k % producers === p);
      const next = new Map(mine.map((k) => [k, 0]));
      while (mine.length > 0) {
        const batch: OutboxRecord[] = [];
        for (let i = 0, size = 1 + Math.floor(Math.random() * 4); i < size && mine.length > 0; i++) {
          const key = mine[Math.floor(Math.random() * mine.length)]!;
          const n = next.get(key)!;
          batch.push(record(key, { value: String(n) }));
          next.set(key, n + 1);
          if (n + 1 === perKey) mine.splice(mine.indexOf(key), 1);
        }
        await stores.transaction((tx) => stores.outbox.append(tx, batch));
      }
    }

    async function relay(relayId: string): Promise<void> {
      for (;;) {
        const batch = await stores.outbox.claim({ relayId, limit: 40, leaseMs: 30_000 });
        if (batch.length === 0) {
          if (!producing) return;
          await new Promise((resolve) => setTimeout(resolve, 2));
          continue;
        }
        const batchKeys = [...new Set(batch.map((r) => r.key))];
        for (const key of batchKeys) {
          const holder = holders.get(key);
          if (holder && holder !== relayId) violations.push(`${relayId} got ${key} while ${holder} held it`);
          holders.set(key, relayId);
        }
        for (const r of batch) {
          published.push({ relay: relayId, key: r.key, n: Number(r.value) });
          // yield so the relays' publications interleave for real
          if (Math.random() < 0.3) await new Promise((resolve) => setImmediate(resolve));
        }
        for (const key of batchKeys) holders.delete(key);
        await stores.outbox.markPublished(relayId, batch.map((r) => r.id));
      }
    }

    const relays = Promise.all(['r1', 'r2', 'r3'].map(relay));
    await Promise.all(Array.from({ length: producers }, (_, p) => produce(p)));
    producing = false;
    await relays;

    expect(violations).toEqual([]);
    expect(published).toHaveLength(keys * perKey);
    const byKey = new Map<string, number[]>();
    for (const p of published) byKey.set(p.key, [...(byKey.get(p.key) ?? []), p.n]);
    expect(byKey.size).toBe(keys);
    const inOrder = Array.from({ length: perKey }, (_, i) => i);
    for (const [key, ns] of byKey) expect({ key, ns }).toEqual({ key, ns: inOrder });
    // all three relays did real work
    const perRelay = new Map<string, number>();
    for (const p of published) perRelay.set(p.relay, (perRelay.get(p.relay) ?? 0) + 1);
    expect([...perRelay.keys()].sort()).toEqual(['r1', 'r2', 'r3']);
    // and a key really moved between relays (order held across hand-overs, not by luck of affinity)
    const relaysPerKey = [...byKey.keys()].map((key) => new Set(published.filter((p) => p.key === key).map((p) => p.relay)).size);
    expect(Math.max(...relaysPerKey)).toBeGreaterThan(1);
  });

  it('keeps first publications in per-key order when publishes fail part way and are retried', async () => {
    const stores = await pgs.stores({ poolSize: 12 });
    const keys = 60;
    const perKey = 15;
    const all = Array.from({ length: perKey }, (_, n) => Array.from({ length: keys }, (_, k) => record(`k${k}`, { value: String(n) }))).flat();
    for (let i = 0; i < all.length; i += 100) await stores.transaction((tx) => stores.outbox.append(tx, all.slice(i, i + 100)));
    const log: { key: string; n: number }[] = [];

    async function relay(relayId: string): Promise<void> {
      for (;;) {
        const batch = await stores.outbox.claim({ relayId, limit: 25, leaseMs: 30_000 });
        if (batch.length === 0) return;
        // a third of the rounds fail after publishing a prefix (the broker took some, then failed)
        const failAt = Math.random() < 0.33 ? Math.floor(Math.random() * batch.length) : -1;
        let failed = false;
        for (const [i, r] of batch.entries()) {
          if (i === failAt) {
            failed = true;
            break;
          }
          log.push({ key: r.key, n: Number(r.value) });
          if (Math.random() < 0.3) await new Promise((resolve) => setImmediate(resolve));
        }
        if (failed) await stores.outbox.release(relayId, batch.map((r) => r.id));
        else await stores.outbox.markPublished(relayId, batch.map((r) => r.id));
      }
    }

    await Promise.all(['r1', 'r2', 'r3'].map(relay));
    const firstSeen = new Map<string, number[]>();
    const seen = new Set<string>();
    for (const { key, n } of log) {
      if (seen.has(`${key}/${n}`)) continue;
      seen.add(`${key}/${n}`);
      firstSeen.set(key, [...(firstSeen.get(key) ?? []), n]);
    }
    expect(seen.size).toBe(keys * perKey);
    const inOrder = Array.from({ length: perKey }, (_, i) => i);
    for (const [key, ns] of firstSeen) expect({ key, ns }).toEqual({ key, ns: inOrder });
    expect(log.length).toBeGreaterThan(keys * perKey); // failures really produced duplicates
  });
});
