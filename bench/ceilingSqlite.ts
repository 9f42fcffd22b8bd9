// Row `ceiling-sqlite`: the bare hand-written pipeline Herald's embedded engine replaces — a
// SQLite table used as a queue, in one process, as a competent team would write it. No outbox, no
// relay, no envelope: the producer inserts rows (concurrent calls group-committed into one
// transaction), the consumer polls up to 1,000 rows and applies the same effect as every row —
// a dedupe insert and a per-key counter update — and deletes them, all in one transaction per
// poll. Both commit durably (WAL, synchronous=FULL: an fsync per commit, as durable as Herald's
// embedded engine, whose commits are fsync'd before they are acknowledged).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { cpuSeconds } from './cpu.js';
import { Applied, nowMs, type BenchItem, type BenchRow } from './workload.js';

const POLL_LIMIT = 1000;

export async function ceilingSqliteRow(): Promise<BenchRow> {
  const dir = mkdtempSync(join(tmpdir(), 'herald-ceiling-'));
  const db = new Database(join(dir, 'queue.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec(`
    CREATE TABLE queue (id INTEGER PRIMARY KEY, event_id TEXT NOT NULL, k TEXT NOT NULL, sent_at REAL NOT NULL, payload TEXT NOT NULL);
    CREATE TABLE seen (event_id TEXT PRIMARY KEY) WITHOUT ROWID;
    CREATE TABLE counters (k TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
  `);
  const enqueue = db.prepare('INSERT INTO queue (event_id, k, sent_at, payload) VALUES (?, ?, ?, ?)');
  const poll = db.prepare<[number], { id: number; event_id: string; k: string; sent_at: number }>('SELECT id, event_id, k, sent_at FROM queue ORDER BY id LIMIT ?');
  const dedupe = db.prepare('INSERT INTO seen (event_id) VALUES (?) ON CONFLICT DO NOTHING');
  const count = db.prepare('INSERT INTO counters (k, n) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET n = n + excluded.n');
  const remove = db.prepare('DELETE FROM queue WHERE id <= ?');
  const applied = new Applied();

  // group commit: calls made while a commit is pending share the next one
  let pending: { items: readonly BenchItem[]; resolve: () => void; reject: (e: unknown) => void }[] = [];
  let scheduled = false;
  const insertAll = db.transaction((calls: typeof pending) => {
    for (const call of calls) for (const item of call.items) enqueue.run(`e${item.seq}`, item.key, item.sentAt, item.payload);
  });
  const flush = () => {
    scheduled = false;
    const calls = pending;
    pending = [];
    try {
      insertAll(calls);
      calls.forEach((c) => c.resolve());
    } catch (error) {
      calls.forEach((c) => c.reject(error));
    }
    wake();
  };

  const consumeOnce = db.transaction((rows: { id: number; event_id: string; k: string; sent_at: number }[]) => {
    const perKey = new Map<string, number>();
    const fresh: number[] = [];
    for (const row of rows) {
      if (dedupe.run(row.event_id).changes === 0) continue;
      fresh.push(row.sent_at);
      perKey.set(row.k, (perKey.get(row.k) ?? 0) + 1);
    }
    for (const [k, n] of perKey) count.run(k, n);
    remove.run(rows[rows.length - 1]!.id);
    return fresh;
  });
  let stopped = false;
  let wake: () => void = () => {};
  const consumer = (async () => {
    while (!stopped) {
      const rows = poll.all(POLL_LIMIT);
      if (rows.length === 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 5);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = () => {};
        continue;
      }
      const fresh = consumeOnce(rows);
      const committedAt = nowMs();
      for (const sent of fresh) applied.record(sent, committedAt);
      // let producers in between polls: the process is one thread
      await new Promise((resolve) => setImmediate(resolve));
    }
  })();

  return {
    applied,
    send(items) {
      return new Promise<void>((resolve, reject) => {
        pending.push({ items, resolve, reject });
        if (!scheduled) {
          scheduled = true;
          setImmediate(flush);
        }
      });
    },
    cpuSeconds: () => cpuSeconds(),
    async close() {
      stopped = true;
      wake();
      await consumer;
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
