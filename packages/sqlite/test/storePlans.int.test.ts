import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { createManualClock, type DeadLetterFilter } from '@herald/core';
import { sqliteStores } from '@herald/sqlite';
import { migrate } from '../src/internal/migrate.js';
import { listQuery, PARKING_COUNTS_SQL } from '../src/stores/deadLetters.js';
import { INBOX_KEEP_SQL, MARKS_DELETE_SQL, OUTBOX_KEEP_SQL } from '../src/stores/retention.js';
import { STORE_MIGRATIONS } from '../src/stores/schema.js';
import { tempDir } from './helpers.js';

// The plans of statements the stores run over and over (per delivery, per sweep), on seeded files:
// SQLite has no statistics here (nothing runs ANALYZE), so each plan is the one every file gets.

const tmp = tempDir('herald-store-plans-');
afterAll(() => tmp.remove());
let counter = 0;
const nextPath = () => join(tmp.dir, `${++counter}-store.db`);
const DAY = 24 * 60 * 60 * 1000;

/** The lines of `sql`'s query plan, its parameters bound to NULL. */
function planOf(db: Database.Database, sql: string): string[] {
  const params = Array.from({ length: (sql.match(/\?/g) ?? []).length }, () => null);
  return db.prepare<unknown[], { detail: string }>(`EXPLAIN QUERY PLAN ${sql}`).all(...params).map((row) => row.detail);
}

/** The seeded letters: three groups, 1,000 keys (ten letters per group and key), one in seven open (dead or parked), the rest redriven. */
function letterAt(i: number) {
  const open = i % 7 === 0;
  return { id: `dl-${i}`, group: `g${i % 3}`, handler: i % 11 < 5 ? 'stream' : 'h', key: `key-${i % 1000}`, status: open ? (i % 14 === 0 ? 'parked' : 'dead') : 'redriven', open };
}

describe('dead letters of one key', () => {
  it("are listed through herald_dead_letters_key, not from every letter of the group, also in a file of migration 12", async () => {
    // the park-key path lists a group's letters of one key four times for every delivery of a held
    // key, the stream's result dead-lettering once per result: through the group index each read all
    // the group's letters in the status, or all of the group's letters (0.6 and 4.7 ms at 60,000)
    const path = nextPath();
    const v12 = new Database(path);
    migrate(v12, 'stores', STORE_MIGRATIONS.filter((m) => m.version <= 12));
    const insert = v12.prepare(
      `INSERT INTO herald_dead_letters (id, group_name, handler, event_id, event_type, topic, partition, record_offset, key, reason, error, attempts,
         first_failure_at, last_failure_at, envelope, headers, policy, status, resolved_at)
       VALUES (?, ?, ?, ?, 'OrderPlaced', 'orders', 0, ?, ?, 'handler-failed', '{}', 1, ?, ?, '{}', NULL, 'park-key', ?, ?)`,
    );
    const letters = Array.from({ length: 30_000 }, (_, i) => letterAt(i + 1));
    v12.transaction(() => {
      for (const [i, l] of letters.entries()) insert.run(l.id, l.group, l.handler, `e-${i}`, i, l.key, i, i, l.status, l.open ? null : i);
    })();
    v12.close();

    const stores = sqliteStores({ path });
    const db = new Database(path, { readonly: true });
    try {
      const filters: DeadLetterFilter[] = [
        { group: 'g1', key: 'key-21', status: 'dead' },
        { group: 'g2', key: 'key-14', status: 'parked' },
        { group: 'g2', handler: 'stream', key: 'key-20' },
        { group: 'g0', key: 'key-21' },
      ];
      const found: number[] = [];
      for (const filter of filters) {
        const plan = planOf(db, listQuery(filter)!.sql);
        expect(plan[0], JSON.stringify(filter)).toMatch(/^SEARCH herald_dead_letters USING (COVERING )?INDEX herald_dead_letters_key \(group_name=\? AND key=\?/);
        const expected = letters.filter((l) => l.group === filter.group && l.key === filter.key && (filter.status ?? l.status) === l.status && (filter.handler ?? l.handler) === l.handler);
        expect((await stores.deadLetters.list(filter)).map((l) => l.id), JSON.stringify(filter)).toEqual(expected.map((l) => l.id));
        found.push(expected.length);
      }
      // each list has letters to find (the last two of several statuses), among others of the group
      expect(found).toEqual([2, 2, 4, 10]);
    } finally {
      db.close();
      await stores.close();
    }
  });
});

describe('parking letters', () => {
  it('are counted per group from their partial index alone, not from every open letter', async () => {
    // isKeyParked counts them again whenever the file changed: at nearly every delivery of a
    // park-key group under load, so open letters of other policies must not cost it anything
    const path = nextPath();
    await sqliteStores({ path }).close();
    const seed = new Database(path);
    const insert = seed.prepare(
      `INSERT INTO herald_dead_letters (id, group_name, handler, topic, partition, record_offset, key, reason, error, attempts, first_failure_at, last_failure_at, envelope, policy, status)
       VALUES (?, ?, 'h', 'orders', 0, ?, ?, 'handler-failed', '{}', 1, 0, 0, '{}', ?, ?)`,
    );
    seed.transaction(() => {
      for (let i = 0; i < 6000; i++) insert.run(`skip-${i}`, 'billing', i, `key-${i}`, 'skip', 'dead');
      insert.run('park-1', 'shipping', 1, 'order-1', 'park-key', 'dead');
      insert.run('park-2', 'shipping', 2, 'order-1', 'park-key', 'parked');
      insert.run('park-3', 'shipping', 3, 'order-2', 'park-key', 'redriven');
    })();
    expect(planOf(seed, PARKING_COUNTS_SQL)).toEqual(['SCAN herald_dead_letters USING INDEX herald_dead_letters_parked']);
    expect(seed.prepare(PARKING_COUNTS_SQL).all()).toEqual([{ group_name: 'shipping', n: 2 }]);
    seed.close();
    const stores = sqliteStores({ path });
    try {
      expect(await stores.deadLetters.isKeyParked('shipping', 'orders', 'order-1')).toBe(true);
      expect(await stores.deadLetters.isKeyParked('shipping', 'orders', 'order-2')).toBe(false);
      expect(await stores.deadLetters.isKeyParked('billing', 'orders', 'key-1')).toBe(false);
    } finally {
      await stores.close();
    }
  });
});

describe('the retention sweep', () => {
  it('reads only what it deletes: the old watermark moves by slot, the rows one chunk at a time', async () => {
    const path = nextPath();
    await sqliteStores({ path }).close();
    const db = new Database(path, { readonly: true });
    try {
      // every move was read at every sweep (9 ms per 240,000 of them, a move per slot and relay round)
      expect(planOf(db, MARKS_DELETE_SQL)[0]).toBe('SEARCH herald_outbox_marks USING PRIMARY KEY (slot=? AND up_to_seq<?)');
      // the first row to keep was looked for from the table's start at every chunk: a sweep's work
      // grew with the square of what it deleted (3.4 s, 116 ms under the write lock, for 290,000 rows)
      expect(planOf(db, OUTBOX_KEEP_SQL)[0]).toBe('SEARCH o USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)');
      expect(planOf(db, INBOX_KEEP_SQL)).toEqual(['SEARCH herald_inbox USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)']);
    } finally {
      db.close();
    }
  });

  it('deletes old rows across chunks up to the first to keep, and the moves only the deleted rows needed', async () => {
    const clock = createManualClock(1_700_000_000_000);
    const path = nextPath();
    await sqliteStores({ path, clock }).close();
    const old = clock.now() - 8 * DAY;
    const seed = new Database(path);
    const outbox = seed.prepare(
      "INSERT INTO herald_outbox (seq, id, topic, key, type, correlation_id, value, headers, created_at, published_at, slot) VALUES (?, ?, 't', 'k', 'T', 'c', '{}', NULL, ?, ?, ?)",
    );
    const mark = seed.prepare('INSERT INTO herald_outbox_marks (slot, up_to_seq, published_at) VALUES (?, ?, ?)');
    const inbox = seed.prepare("INSERT INTO herald_inbox (seq, event_id, group_name, handled_at) VALUES (?, ?, 'g', ?)");
    seed.transaction(() => {
      for (let seq = 1; seq <= 12_000; seq++) {
        // beyond the first chunk (5,000): the outbox's 8,000th row is unpublished, the inbox's 9,000th young
        outbox.run(seq, `o-${seq}`, old, seq === 8000 ? null : old, seq % 16);
        mark.run(seq % 16, seq, old);
        inbox.run(seq, `e-${seq}`, seq === 9000 ? clock.now() : old);
      }
    })();
    seed.close();

    const stores = sqliteStores({ path, clock });
    try {
      expect(await stores.sweepRetention()).toMatchObject({ outbox: 7999, inbox: 8999 });
    } finally {
      await stores.close();
    }
    const db = new Database(path, { readonly: true });
    try {
      expect(db.prepare('SELECT min(seq) FROM herald_outbox').pluck().get()).toBe(8000);
      expect(db.prepare('SELECT min(seq) FROM herald_inbox').pluck().get()).toBe(9000);
      // a move is kept while a row it covers is: those from the 8,000th row on
      expect(db.prepare('SELECT min(up_to_seq), count(*) FROM herald_outbox_marks').raw().get()).toEqual([8000, 4001]);
    } finally {
      db.close();
    }
  });
});
