import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { sqliteStores, type SqliteStores } from '@herald/sqlite';
import { committedNames, tempDir, waitFor } from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.remove());

let counter = 0;
let path: string;
let stores: SqliteStores;
const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A promise a test resolves when it chooses (`open`), to hold a transaction mid-way. */
function gated(): { gate: Promise<void>; open: () => void } {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  return { gate, open };
}

beforeEach(async () => {
  path = join(tmp.dir, `concurrency-${++counter}.db`);
  stores = sqliteStores({ path });
  await stores.transaction((tx) => tx.execute('CREATE TABLE rows (name TEXT NOT NULL)'));
});
afterEach(() => stores.close());


describe('concurrent transactions on one SQLite writer', () => {
  it('commits a fast transaction while a slow one is still running, then the slow one with all its writes', async () => {
    const { gate, open } = gated();
    const slow = stores.transaction(async (tx) => {
      await tx.execute('INSERT INTO rows VALUES ($1)', ['slow-1']);
      await gate;
      await tx.execute('INSERT INTO rows VALUES ($1)', ['slow-2']);
    });
    await tick(5);
    await stores.transaction((tx) => tx.execute('INSERT INTO rows VALUES ($1)', ['fast']));
    expect(committedNames(path)).toEqual(['fast']);
    open();
    await slow;
    expect(committedNames(path)).toEqual(['fast', 'slow-1', 'slow-2']);
  });

  it('does not hold the write lock while a transaction awaits: another process can write meanwhile', async () => {
    const { gate, open } = gated();
    const slow = stores.transaction(async (tx) => {
      await tx.execute('INSERT INTO rows VALUES ($1)', ['slow-1']);
      await gate;
      await tx.execute('INSERT INTO rows VALUES ($1)', ['slow-2']);
    });
    await tick(30);
    const other = new Database(path);
    try {
      other.pragma('busy_timeout = 0');
      other.exec("BEGIN IMMEDIATE; INSERT INTO rows VALUES ('other process'); COMMIT");
    } finally {
      other.close();
    }
    open();
    await slow;
    expect(committedNames(path)).toEqual(['other process', 'slow-1', 'slow-2']);
  });

  it('keeps the writes of a transaction that finished while the lock was yielded, when another commits', async () => {
    const { gate: gateM, open: openM } = gated();
    const { gate: gateN, open: openN } = gated();
    const m = stores.transaction(async (tx) => {
      await tx.execute('INSERT INTO rows VALUES ($1)', ['m']);
      await gateM;
    });
    const n = stores.transaction(async (tx) => {
      await gateN;
      await tx.execute('INSERT INTO rows VALUES ($1)', ['n']);
    });
    await tick(20); // the write lock has been yielded meanwhile
    openM(); // m finishes with no statement since the yield...
    await new Promise((resolve) => setImmediate(resolve));
    openN(); // ...and n reopens the transaction before the next commit point
    await Promise.all([m, n]);
    expect(committedNames(path)).toEqual(['m', 'n']);
  });

  it('runs a transaction again when it read writes of one that then failed, after that one finished', async () => {
    const { gate, open } = gated();
    const failing = stores.transaction(async (tx) => {
      await tx.execute('INSERT INTO rows VALUES ($1)', ['doomed']);
      await gate;
      throw new Error('fails after writing');
    });
    let runs = 0;
    const reader = stores.transaction(async (tx) => {
      runs++;
      const [{ n }] = await tx.query<{ n: number }>("SELECT count(*) AS n FROM rows WHERE name = 'doomed'");
      await tx.execute('INSERT INTO rows VALUES ($1)', [`saw-${n}`]);
      return n;
    });
    await tick(30);
    expect(committedNames(path)).toEqual([]);
    open();
    await expect(failing).rejects.toThrow('fails after writing');
    expect(await reader).toBe(0);
    expect(runs).toBe(2);
    expect(committedNames(path)).toEqual(['saw-0']);
  });

  it('fails a transaction alone whose SQL answers differently on each run, naming the statement and the cure', async () => {
    let runs = 0;
    const failing = stores.transaction(async (tx) => {
      runs++;
      const [row] = await tx.query<{ name: string }>('INSERT INTO rows VALUES (lower(hex(randomblob(8)))) RETURNING name');
      await tick(20); // the write lock is yielded meanwhile: the INSERT is replayed, with another id
      await tx.execute('INSERT INTO rows VALUES ($1)', [`after-${row!.name}`]);
    });
    const error = await failing.then(
      () => undefined,
      (thrown: unknown) => thrown as { code: string; message: string },
    );
    expect(error).toMatchObject({ code: 'transaction-conflict' });
    expect(error!.message).toContain('`INSERT INTO rows VALUES (lower(hex(randomblob(8)))) RETURNING name`');
    expect(error!.message).toContain('no other transaction had changed what it read');
    expect(error!.message).toContain('must come from JavaScript parameters');
    expect(runs).toBe(4);
    expect(committedNames(path)).toEqual([]);
    // the same work with the id made in JavaScript commits
    await stores.transaction(async (tx) => {
      const [row] = await tx.query<{ name: string }>('INSERT INTO rows VALUES ($1) RETURNING name', ['js-id']);
      await tick(20);
      await tx.execute('INSERT INTO rows VALUES ($1)', [`after-${row!.name}`]);
    });
    expect(committedNames(path)).toEqual(['after-js-id', 'js-id']);
  });

  it('fails a transaction whose statement ends the physical transaction (INSERT OR ROLLBACK) and replays the others into a new one', async () => {
    await stores.transaction(async (tx) => {
      await tx.execute('CREATE TABLE seats (id INTEGER PRIMARY KEY)');
      await tx.execute('INSERT INTO seats VALUES (1)');
    });
    const { gate, open } = gated();
    const failing = stores.transaction(async (tx) => {
      await tx.execute('INSERT INTO rows VALUES ($1)', ['failing']);
      await gate;
      throw new Error('fails after writing');
    });
    const kept = stores.transaction(async (tx) => {
      await tx.execute('INSERT INTO rows VALUES ($1)', ['kept-1']);
      await gate;
      await tx.execute('INSERT INTO rows VALUES ($1)', ['kept-2']);
      return tx.query<{ name: string }>("SELECT name FROM rows WHERE name LIKE 'kept%' ORDER BY name");
    });
    let runs = 0;
    let caught: unknown;
    const rollingBack = stores.transaction(async (tx) => {
      runs++;
      try {
        // the conflict rolls back the physical transaction: the writes of all three
        await tx.execute('INSERT OR ROLLBACK INTO seats VALUES (1)');
      } catch (error) {
        caught = error; // "already booked": carry on
      }
      try {
        await tx.execute('INSERT INTO rows VALUES ($1)', ['rolling-back']);
      } finally {
        open();
      }
    });
    await expect(rollingBack).rejects.toMatchObject({ code: 'transaction-control', retriable: false });
    expect(caught).toMatchObject({ code: 'transaction-control', cause: { code: 'SQLITE_CONSTRAINT_PRIMARYKEY' } });
    expect(runs).toBe(1);
    await expect(failing).rejects.toThrow('fails after writing');
    expect(await kept).toEqual([{ name: 'kept-1' }, { name: 'kept-2' }]);
    expect(committedNames(path)).toEqual(['kept-1', 'kept-2']);
  });

  it('fails a transaction whose statement ends the physical transaction only when replayed (a trigger that RAISEs ROLLBACK)', async () => {
    await stores.transaction(async (tx) => {
      await tx.execute('CREATE TABLE seats (id INTEGER PRIMARY KEY)');
      await tx.execute('CREATE TABLE holds (seat INTEGER NOT NULL)');
      await tx.execute('CREATE TABLE bookings (seat INTEGER NOT NULL)');
      // both RAISEs fail the statement with the same code; only the second ends the transaction
      await tx.execute(`CREATE TRIGGER check_booking BEFORE INSERT ON bookings BEGIN
        SELECT CASE WHEN EXISTS (SELECT 1 FROM holds WHERE seat = NEW.seat) THEN RAISE(ABORT, 'seat held')
                    WHEN NOT EXISTS (SELECT 1 FROM seats WHERE id = NEW.seat) THEN RAISE(ROLLBACK, 'no such seat') END;
      END`);
    });
    const { gate, open } = gated();
    const holding = stores.transaction(async (tx) => {
      await tx.execute('INSERT INTO holds VALUES (1)');
      await gate;
      throw new Error('fails after writing');
    });
    let runs = 0;
    const booking = stores.transaction(async (tx) => {
      runs++;
      try {
        await tx.execute('INSERT INTO bookings VALUES (1)');
      } catch {
        // "seat held": book nothing, but record the attempt
      }
      await tx.execute('INSERT INTO rows VALUES ($1)', ['booking attempted']);
    });
    await tick(30); // a commit point replays booking without the hold: the trigger now rolls back
    const meanwhile = committedNames(path);
    open();
    expect(meanwhile).toEqual([]);
    await expect(holding).rejects.toThrow('fails after writing');
    // run again without the hold, it ends the transaction itself
    await expect(booking).rejects.toMatchObject({ code: 'transaction-control', retriable: false });
    expect(runs).toBe(2);
    expect(committedNames(path)).toEqual([]);
  });

  it('refuses a COMMIT behind a comment: it cannot commit the writes of a transaction that then fails', async () => {
    const { gate, open } = gated();
    const failing = stores.transaction(async (tx) => {
      await tx.execute('INSERT INTO rows VALUES ($1)', ['failing']);
      await gate;
      throw new Error('fails after writing');
    });
    const committing = stores.transaction(async (tx) => {
      try {
        await tx.execute('/* end */ COMMIT');
      } finally {
        open();
      }
    });
    await expect(committing).rejects.toMatchObject({ code: 'transaction-control', retriable: false });
    await expect(failing).rejects.toThrow('fails after writing');
    expect(committedNames(path)).toEqual([]);
  });

  it('keeps invariants under many interleaved transfers with random delays and failures', async () => {
    await stores.transaction(async (tx) => {
      await tx.execute('CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL)');
      await tx.execute('CREATE TABLE transfers (id INTEGER PRIMARY KEY, source INTEGER, target INTEGER, amount INTEGER)');
      for (let id = 0; id < 8; id++) await tx.execute('INSERT INTO accounts VALUES ($1, 1000)', [id]);
    });
    let seed = 42;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const outcomes = await Promise.allSettled(
      Array.from({ length: 300 }, (_, id) => {
        const source = Math.floor(random() * 8);
        const target = (source + 1 + Math.floor(random() * 7)) % 8;
        const amount = 1 + Math.floor(random() * 50);
        const delay = random() < 0.3 ? Math.floor(random() * 4) : 0;
        const fail = random() < 0.2;
        return stores.transaction(async (tx) => {
          const [{ balance }] = await tx.query<{ balance: number }>('SELECT balance FROM accounts WHERE id = $1', [source]);
          if (balance < amount) return 'skipped';
          await tx.execute('UPDATE accounts SET balance = balance - $1 WHERE id = $2', [amount, source]);
          if (delay > 0) await tick(delay);
          if (fail) throw new Error('transfer failed half way');
          await tx.execute('UPDATE accounts SET balance = balance + $1 WHERE id = $2', [amount, target]);
          await tx.execute('INSERT INTO transfers VALUES ($1, $2, $3, $4)', [id, source, target, amount]);
          return 'moved';
        });
      }),
    );
    const rejected = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    const reasons = new Set(rejected.map((o) => (o.reason as { code?: string }).code ?? (o.reason as Error).message));
    expect([...reasons].every((r) => r === 'transfer failed half way' || r === 'transaction-conflict')).toBe(true);
    const moved = outcomes.filter((o) => o.status === 'fulfilled' && o.value === 'moved').length;

    const { accounts, transfers } = await stores.transaction(async (tx) => ({
      accounts: await tx.query<{ id: number; balance: number }>('SELECT id, balance FROM accounts ORDER BY id'),
      transfers: await tx.query<{ source: number; target: number; amount: number }>('SELECT source, target, amount FROM transfers'),
    }));
    expect(transfers).toHaveLength(moved);
    expect(accounts.reduce((sum, a) => sum + a.balance, 0)).toBe(8000);
    for (const { id, balance } of accounts) {
      const delta = transfers.reduce((sum, t) => sum + (t.target === id ? t.amount : 0) - (t.source === id ? t.amount : 0), 0);
      expect(balance).toBe(1000 + delta);
    }
  });

  it('waits for running transactions on close', async () => {
    const { gate, open } = gated();
    const running = stores.transaction(async (tx) => {
      await gate;
      await tx.execute('INSERT INTO rows VALUES ($1)', ['late']);
    });
    await tick(5);
    let closed = false;
    const closing = stores.close().then(() => (closed = true));
    await tick(20);
    expect(closed).toBe(false);
    open();
    await running;
    await closing;
    await waitFor(() => closed);
    expect(committedNames(path)).toEqual(['late']);
  });
});
