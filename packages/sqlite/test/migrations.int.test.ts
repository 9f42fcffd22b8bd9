import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import type { DeadLetter } from '@herald/core';
import { sqliteEngine, sqliteStores } from '@herald/sqlite';
import { migrate } from '../src/internal/migrate.js';
import { STORE_MIGRATIONS } from '../src/stores/schema.js';
import { tempDir } from './helpers.js';

const tmp = tempDir('herald-migrations-');
afterAll(() => tmp.remove());

/** A dead letter as a v1 store wrote it: no fingerprint, no resolution time. */
const V1_LETTER = {
  id: '0190a0a0-0000-7000-8000-000000000001',
  group_name: 'billing',
  handler: 'billing:OrderPlaced',
  event_id: 'e-1',
  event_type: 'OrderPlaced',
  topic: 'orders',
  partition: 2,
  record_offset: 41,
  key: 'order-1',
  reason: 'handler-failed',
  error: JSON.stringify({ name: 'Error', message: 'card declined', stack: 'Error: card declined\n    at charge (src/billing.ts:12:3)' }),
  attempts: 5,
  first_failure_at: 1_700_000_000_000,
  last_failure_at: 1_700_000_015_000,
  envelope: '{"id":"e-1","type":"OrderPlaced"}',
  headers: '{"x-tenant":"acme"}',
  policy: 'skip',
  status: 'dead',
};

describe('store file migrations', () => {
  it('opens a v1 store file, migrates it, and lists its dead letter with an empty fingerprint', async () => {
    const path = join(tmp.dir, 'v1-store.db');
    const v1 = new Database(path);
    // migration 1 as released (released migrations are never edited): the file a v1 engine left
    migrate(v1, 'stores', STORE_MIGRATIONS.filter((m) => m.version === 1));
    const columns = Object.keys(V1_LETTER);
    v1.prepare(`INSERT INTO herald_dead_letters (${columns.join(', ')}) VALUES (${columns.map((c) => `@${c}`).join(', ')})`).run(V1_LETTER);
    v1.close();

    const stores = sqliteStores({ path });
    try {
      const expected: DeadLetter = {
        id: V1_LETTER.id,
        group: 'billing',
        handler: 'billing:OrderPlaced',
        eventId: 'e-1',
        eventType: 'OrderPlaced',
        topic: 'orders',
        partition: 2,
        offset: 41,
        key: 'order-1',
        reason: 'handler-failed',
        fingerprint: '',
        error: JSON.parse(V1_LETTER.error) as DeadLetter['error'],
        attempts: 5,
        firstFailureAt: V1_LETTER.first_failure_at,
        lastFailureAt: V1_LETTER.last_failure_at,
        envelope: V1_LETTER.envelope,
        headers: { 'x-tenant': 'acme' },
        policy: 'skip',
        status: 'dead',
      };
      expect(await stores.deadLetters.list()).toEqual([expected]);
      expect(await stores.deadLetters.page({ fingerprint: '' })).toEqual({ letters: [expected], next: null });
      expect(await stores.deadLetters.groups()).toEqual([
        {
          group: 'billing',
          handler: 'billing:OrderPlaced',
          fingerprint: '',
          reason: 'handler-failed',
          count: 1,
          firstFailureAt: V1_LETTER.first_failure_at,
          lastFailureAt: V1_LETTER.last_failure_at,
          sample: { id: V1_LETTER.id, message: 'card declined' },
        },
      ]);
      expect(await stores.deadLetters.discard([V1_LETTER.id]), 'the migrated letter takes a resolution time').toBe(1);
    } finally {
      await stores.close();
    }

    const migrated = new Database(path, { readonly: true });
    try {
      expect(migrated.prepare("SELECT version FROM herald_schema_version WHERE component = 'stores'").pluck().get()).toBe(STORE_MIGRATIONS.at(-1)!.version);
      const row = migrated.prepare<[], { status: string; resolved_at: number | null }>('SELECT status, resolved_at FROM herald_dead_letters').get();
      expect(row?.status).toBe('discarded');
      expect(row?.resolved_at).toEqual(expect.any(Number));
      const indexes = migrated.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'herald_dead_letters'").pluck().all();
      expect(indexes).toEqual(expect.arrayContaining(['herald_dead_letters_status', 'herald_dead_letters_fingerprint', 'herald_dead_letters_last_failure']));
    } finally {
      migrated.close();
    }
  });
});

describe('the outbox by slot (migration 4)', () => {
  it('keeps what was published published and relays what waited, oldest first, per key in order', async () => {
    const path = join(tmp.dir, 'v3-outbox.db');
    const v3 = new Database(path);
    migrate(v3, 'stores', STORE_MIGRATIONS.filter((m) => m.version <= 3));
    const insert = v3.prepare(
      'INSERT INTO herald_outbox (id, topic, key, type, correlation_id, value, headers, created_at, published_at) VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?)',
    );
    // key a: two published, then one waiting; key b: all published; key c: waiting
    const rows: [string, string, number | null][] = [
      ['a1', 'a', 10],
      ['b1', 'b', 11],
      ['a2', 'a', 12],
      ['c1', 'c', null],
      ['a3', 'a', null],
      ['b2', 'b', 13],
    ];
    rows.forEach(([id, key, publishedAt], i) => insert.run(id, 'orders', key, 'T', `corr-${id}`, `{"id":"${id}"}`, i, publishedAt));
    v3.close();

    const stores = sqliteStores({ path });
    try {
      const claimed = await stores.outbox.claim({ relayId: 'r', limit: 100, leaseMs: 10_000 });
      const waiting = claimed.map((r) => r.id);
      // exactly what waited, in order: what was published, even after a waiting row of its slot, stays published
      expect(waiting).toEqual(['c1', 'a3']);
      await stores.outbox.markPublished('r', waiting);
      expect(await stores.outbox.claim({ relayId: 'r', limit: 100, leaseMs: 10_000 })).toEqual([]);
      expect((await stores.outbox.findByCorrelation('corr-a1')).map((e) => e.publishedAt)).toEqual([10]);
      expect((await stores.outbox.findByCorrelation('corr-a3'))[0]!.publishedAt).toEqual(expect.any(Number));
      expect(await stores.outbox.backlog()).toEqual([]);
    } finally {
      await stores.close();
    }
  });
});

describe('one open dead letter per record (migration 12)', () => {
  it('keeps the open letters a file holds twice for one record, and adds no third', async () => {
    const path = join(tmp.dir, 'v11-letters.db');
    const v11 = new Database(path);
    migrate(v11, 'stores', STORE_MIGRATIONS.filter((m) => m.version <= 11));
    const columns = Object.keys(V1_LETTER);
    const insert = v11.prepare(`INSERT INTO herald_dead_letters (${columns.join(', ')}) VALUES (${columns.map((c) => `@${c}`).join(', ')})`);
    // the record dead-lettered twice by an earlier version, after a redelivery
    const ids = ['0190a0a0-0000-7000-8000-000000000001', '0190a0a0-0000-7000-8000-000000000002'];
    for (const id of ids) insert.run({ ...V1_LETTER, id });
    v11.close();

    const stores = sqliteStores({ path });
    try {
      const [oldest] = await stores.deadLetters.list();
      const again = { ...oldest!, id: '0190a0a0-0000-7000-8000-000000000003', attempts: 1 };
      expect(await stores.deadLetters.add(again), 'the oldest open letter stands for the record').toEqual(oldest);
      const letters = await stores.deadLetters.list();
      expect(letters.map((l) => [l.id, l.status]), 'both accepted letters are kept open, no third added').toEqual(ids.map((id) => [id, 'dead']));
    } finally {
      await stores.close();
    }
  });
});

describe('idempotency key owners and leases (migration 9)', () => {
  it('keeps completed keys replaying and lets a key left in flight be taken over once its 60 s lease lapses', async () => {
    const path = join(tmp.dir, 'v8-idempotency.db');
    const v8 = new Database(path);
    migrate(v8, 'stores', STORE_MIGRATIONS.filter((m) => m.version <= 8));
    const insert = v8.prepare('INSERT INTO herald_idempotency (key, fingerprint, state, response, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)');
    insert.run('done', 'f', 'completed', '{"status":201}', 1000, 86_401_000);
    insert.run('running', 'f', 'in-flight', null, 1000, 86_401_000);
    v8.close();

    const stores = sqliteStores({ path });
    try {
      const begin = (key: string, now: number) => stores.idempotency.begin({ key, fingerprint: 'f', now, ttlMs: 86_400_000, leaseMs: 5_000 });
      expect(await begin('done', 70_000)).toEqual({ outcome: 'completed', response: { status: 201 } });
      expect(await begin('running', 60_999)).toEqual({ outcome: 'in-flight' });
      expect(await begin('running', 61_000)).toEqual({ outcome: 'started', owner: expect.any(String) });
    } finally {
      await stores.close();
    }
  });

  it('holds for 60 s a key a process of the earlier release takes after the upgrade, inserted or taken over after its ttl', async () => {
    const path = join(tmp.dir, 'v9-mixed.db');
    const stores = sqliteStores({ path });
    try {
      const begin = (key: string, now: number) => stores.idempotency.begin({ key, fingerprint: 'f', now, ttlMs: 86_400_000, leaseMs: 5_000 });
      // an upgraded process took 'again' long ago, with a short ttl; then the earlier release, on the
      // same file, inserts 'new' (SQLite fills in a lease of 0) and takes 'again' over (its upsert
      // keeps the earlier lease)
      expect(await stores.idempotency.begin({ key: 'again', fingerprint: 'f', now: 1_000, ttlMs: 10_000, leaseMs: 5_000 })).toMatchObject({ outcome: 'started' });
      const earlier = new Database(path);
      const take = earlier.prepare(
        `INSERT INTO herald_idempotency AS i (key, fingerprint, state, response, created_at, expires_at) VALUES (?, 'f', 'in-flight', NULL, ?, ?)
         ON CONFLICT (key) DO UPDATE SET fingerprint = excluded.fingerprint, state = 'in-flight', response = NULL, created_at = excluded.created_at, expires_at = excluded.expires_at
         WHERE i.expires_at <= excluded.created_at`,
      );
      for (const key of ['new', 'again']) expect(take.run(key, 100_000, 86_500_000).changes).toBe(1);
      earlier.close();
      for (const key of ['new', 'again']) {
        // a retry on an upgraded process while the earlier one's attempt runs: not taken over
        expect(await begin(key, 100_050)).toEqual({ outcome: 'in-flight' });
        expect(await begin(key, 160_000)).toEqual({ outcome: 'started', owner: expect.any(String) });
      }
    } finally {
      await stores.close();
    }
  });
});

describe('a data directory written by a newer version', () => {
  it('is refused, naming the file and the versions, and left as it was', async () => {
    const dataDir = join(tmp.dir, 'from-the-future');
    const engine = sqliteEngine({ dataDir });
    await engine.close();
    for (const [file, component] of [
      ['store.db', 'stores'],
      ['log.db', 'log'],
    ] as const) {
      const db = new Database(join(dataDir, file));
      const known = db.prepare<[string], number>('SELECT version FROM herald_schema_version WHERE component = ?').pluck().get(component)!;
      db.prepare('UPDATE herald_schema_version SET version = ? WHERE component = ?').run(known + 1, component);
      db.close();
      let refused: unknown;
      try {
        void sqliteEngine({ dataDir }).close();
      } catch (error) {
        refused = error;
      }
      expect(refused).toMatchObject({ code: 'store-newer-version', retriable: false, details: { path: join(dataDir, file), component, version: known + 1, known } });
      expect((refused as Error).message).toContain(join(dataDir, file));
      const after = new Database(join(dataDir, file), { readonly: true });
      expect(after.prepare<[string], number>('SELECT version FROM herald_schema_version WHERE component = ?').pluck().get(component)).toBe(known + 1);
      after.close();
      // put it back for the other file's turn
      const restore = new Database(join(dataDir, file));
      restore.prepare('UPDATE herald_schema_version SET version = ? WHERE component = ?').run(known, component);
      restore.close();
    }
  });
});
