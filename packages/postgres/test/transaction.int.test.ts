import { ErrorCodes, HeraldError, isHeraldError, type SqlTx } from '@herald/core';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { PgErrorCodes, pgStores as createPgStores } from '../src/index.js';
import { eventually, spiedPool, usePostgres } from './support.js';

const pgs = usePostgres();

function record(id: string, key = 'k1') {
  return { id, topic: 'orders', key, type: 'OrderCreated', correlationId: `c-${id}`, value: `{"id":"${id}"}`, headers: {}, createdAt: 1 };
}

async function makeTable(tx: SqlTx) {
  await tx.execute('CREATE TABLE IF NOT EXISTS items (id text PRIMARY KEY, n bigint NOT NULL)');
}

describe('pgStores.transaction', () => {
  it('commits the application row, the outbox append and the inbox mark together', async () => {
    const stores = await pgStores();
    await stores.transaction(makeTable);
    const result = await stores.transaction(async (tx) => {
      expect(await tx.execute('INSERT INTO items (id, n) VALUES ($1, $2)', ['a', 41])).toBe(1);
      await stores.outbox.append(tx, [record('e1')]);
      expect(await stores.inbox.markHandled(tx, { group: 'g', eventId: 'in-1', handledAt: 5 })).toBe(true);
      return 'done';
    });
    expect(result).toBe('done');
    const rows = await stores.transaction((tx) => tx.query<{ id: string; n: number }>('SELECT id, n FROM items'));
    // int8 reads back as a number, as on SQLite
    expect(rows).toEqual([{ id: 'a', n: 41 }]);
    expect((await stores.outbox.findByCorrelation('c-e1')).map((e) => e.id)).toEqual(['e1']);
    expect(await stores.inbox.findHandled(['in-1'])).toEqual([{ group: 'g', eventId: 'in-1', handledAt: 5 }]);
  });

  it('prepares a statement asked to be prepared, once per connection, and runs it like any other', async () => {
    const stores = await pgStores({ poolSize: 1 });
    await stores.transaction(makeTable);
    const insert = 'INSERT INTO items (id, n) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET n = items.n + EXCLUDED.n';
    for (let i = 0; i < 3; i++) await stores.transaction((tx) => tx.execute(insert, ['p', 2], { prepare: true }));
    const prepared = await stores.transaction((tx) =>
      tx.query<{ name: string; statement: string }>("SELECT name, statement FROM pg_prepared_statements WHERE name LIKE 'herald_user_%'"),
    );
    expect(prepared).toHaveLength(1);
    expect(prepared[0]!.statement).toBe(insert);
    expect(await stores.transaction((tx) => tx.query('SELECT n FROM items WHERE id = $1', ['p'], { prepare: true }))).toEqual([{ n: 6 }]);
    const unprepared = await stores.transaction((tx) => tx.query<{ n: string }>("SELECT count(*)::int AS n FROM pg_prepared_statements WHERE statement LIKE 'SELECT n FROM items%'"));
    expect(unprepared).toEqual([{ n: 1 }]);
  });

  it('rolls everything back when the work rejects, and rejects with the work error', async () => {
    const stores = await pgStores();
    await stores.transaction(makeTable);
    const boom = new Error('boom');
    await expect(
      stores.transaction(async (tx) => {
        await tx.execute('INSERT INTO items (id, n) VALUES ($1, $2)', ['b', 1]);
        await stores.outbox.append(tx, [record('e2')]);
        await stores.inbox.markHandled(tx, { group: 'g', eventId: 'in-2', handledAt: 5 });
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(await stores.transaction((tx) => tx.query('SELECT * FROM items'))).toEqual([]);
    expect(await stores.outbox.findByCorrelation('c-e2')).toEqual([]);
    expect(await stores.inbox.findHandled(['in-2'])).toEqual([]);
  });

  it('writes a transaction\'s appends as one insert just before COMMIT, in append order, and rolls back when it fails', async () => {
    const { pool, sent } = spiedPool(await pgs.database());
    const stores = createPgStores({ pool });
    try {
      await stores.transaction(makeTable);
      sent.length = 0;
      await stores.transaction(async (tx) => {
        await stores.outbox.append(tx, [record('o1', 'a')]);
        await tx.execute('INSERT INTO items (id, n) VALUES ($1, $2)', ['x', 1]);
        await stores.outbox.append(tx, [record('o2', 'b'), record('o3', 'a')]);
      });
      const inserts = sent.filter((text) => text.includes('INSERT INTO'));
      expect(inserts).toHaveLength(2);
      expect(inserts[1]).toContain('outbox');
      expect(sent.at(-1)).toBe('COMMIT');
      const claimed = await stores.outbox.claim({ relayId: 'r', limit: 10, leaseMs: 10_000 });
      expect(claimed.map((r) => r.id)).toEqual(['o1', 'o2', 'o3']);

      // PostgreSQL refuses NUL in text: the deferred insert fails at commit time, taking the row with it
      const failed = stores.transaction(async (tx) => {
        await tx.execute('INSERT INTO items (id, n) VALUES ($1, $2)', ['y', 2]);
        await stores.outbox.append(tx, [{ ...record('o4'), value: 'nul \u0000 byte' }]);
      });
      await expect(failed).rejects.toMatchObject({ retriable: false });
      expect(await stores.transaction((tx) => tx.query('SELECT id FROM items ORDER BY id'))).toEqual([{ id: 'x' }]);
      expect(await stores.outbox.findByCorrelation('c-o4')).toEqual([]);
    } finally {
      await stores.close();
      await pool.end();
    }
  });

  it('refuses a tx handle used after its transaction settled', async () => {
    const stores = await pgStores();
    let leaked: SqlTx | undefined;
    await stores.transaction(async (tx) => {
      leaked = tx;
    });
    await expect(leaked!.query('SELECT 1')).rejects.toMatchObject({ code: 'closed' });
  });

  it('maps constraint violations to non-retriable errors and never reports a commit after a swallowed failure', async () => {
    const stores = await pgStores();
    await stores.transaction(makeTable);
    await stores.transaction((tx) => tx.execute('INSERT INTO items VALUES ($1, $2)', ['dup', 1]));
    const duplicate = await stores.transaction((tx) => tx.execute('INSERT INTO items VALUES ($1, $2)', ['dup', 2])).catch((e: unknown) => e);
    expect(duplicate).toBeInstanceOf(HeraldError);
    expect(duplicate).toMatchObject({ code: PgErrorCodes.constraint, retriable: false, details: { sqlState: '23505', constraint: 'items_pkey' } });

    // the work swallows the failure and resolves: PostgreSQL has aborted the transaction, so no
    // commit, and the error is that failure (not the refusal of the outbox insert deferred to commit)
    const swallowed = stores.transaction(async (tx) => {
      await tx.execute('INSERT INTO items VALUES ($1, $2)', ['other', 1]);
      await tx.execute('INSERT INTO items VALUES ($1, $2)', ['dup', 3]).catch(() => 0);
      await stores.outbox.append(tx, [record('after-failure')]);
    });
    await expect(swallowed).rejects.toMatchObject({ code: PgErrorCodes.constraint, retriable: false });
    expect(await stores.transaction((tx) => tx.query('SELECT id FROM items ORDER BY id'))).toEqual([{ id: 'dup' }]);
  });

  it("maps a value the server refuses as data to the core's non-retriable value-rejected", async () => {
    const stores = await pgStores();
    await stores.transaction((tx) => tx.execute('CREATE TABLE IF NOT EXISTS short_names (name varchar(3) NOT NULL)'));
    const nul = await stores.transaction((tx) => tx.execute('INSERT INTO short_names VALUES ($1)', ['a\u0000b'])).catch((e: unknown) => e);
    expect(nul).toMatchObject({ code: ErrorCodes.valueRejected, retriable: false, details: { sqlState: '22021' } });
    const long = await stores.transaction((tx) => tx.execute('INSERT INTO short_names VALUES ($1)', ['abcd'])).catch((e: unknown) => e);
    expect(long).toMatchObject({ code: ErrorCodes.valueRejected, retriable: false, details: { sqlState: '22001' } });
    expect(await stores.transaction((tx) => tx.query('SELECT name FROM short_names'))).toEqual([]);
  });

  it('maps a deadlock to a retriable conflict', async () => {
    const stores = await pgStores();
    await stores.transaction(async (tx) => {
      await makeTable(tx);
      await tx.execute(`INSERT INTO items VALUES ('x', 0), ('y', 0)`);
    });
    let bothLocked!: () => void;
    let count = 0;
    const barrier = new Promise<void>((resolve) => (bothLocked = resolve));
    const arrive = () => {
      if (++count === 2) bothLocked();
      return barrier;
    };
    const crossing = (first: string, second: string) =>
      stores.transaction(async (tx) => {
        await tx.execute('UPDATE items SET n = n + 1 WHERE id = $1', [first]);
        await arrive();
        await tx.execute('UPDATE items SET n = n + 1 WHERE id = $1', [second]);
      });
    const outcomes = await Promise.allSettled([crossing('x', 'y'), crossing('y', 'x')]);
    const failures = outcomes.filter((o) => o.status === 'rejected').map((o) => (o as PromiseRejectedResult).reason);
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ code: PgErrorCodes.conflict, retriable: true, details: { sqlState: '40P01' } });
    // the survivor committed both updates
    const rows = await stores.transaction((tx) => tx.query<{ n: number }>('SELECT sum(n)::int AS n FROM items'));
    expect(rows[0]!.n).toBe(2);
  });

  it('maps concurrent CREATE TABLE IF NOT EXISTS collisions to retriable conflicts that succeed when run again', async () => {
    const url = await pgs.database();
    const processes = await Promise.all(Array.from({ length: 5 }, () => pgs.stores({ url, poolSize: 1 })));
    const create = (s: (typeof processes)[number], table: string) => s.transaction((tx) => tx.execute(`CREATE TABLE IF NOT EXISTS ${table} (id text PRIMARY KEY)`));
    const collisions: unknown[] = [];
    for (let round = 0; round < 10 && collisions.length === 0; round++) {
      const table = `starters_${round}`;
      const outcomes = await Promise.allSettled(processes.map((s) => create(s, table)));
      collisions.push(...outcomes.filter((o) => o.status === 'rejected').map((o) => (o as PromiseRejectedResult).reason));
      expect(outcomes.some((o) => o.status === 'fulfilled')).toBe(true);
      // run again, every process gets through
      await Promise.all(processes.map((s) => create(s, table)));
    }
    expect(collisions.length).toBeGreaterThan(0);
    // the server reports the race on a catalog index (23505), or names the object the other session
    // just committed (42P07 duplicate_table, 42710 duplicate_object): the same conflict either way
    for (const error of collisions) {
      expect(error).toMatchObject({ code: PgErrorCodes.conflict, retriable: true });
      expect(['23505', '42P07', '42710']).toContain((error as { details: { sqlState: string } }).details.sqlState);
    }
  });

  it('keeps a plain CREATE of an existing name a failure, not a conflict retried until the budget runs out', async () => {
    const stores = await pgStores();
    await stores.transaction(async (tx) => {
      await makeTable(tx);
      await tx.execute('CREATE INDEX items_n ON items (n)');
    });
    const again = stores.transaction((tx) => tx.execute('CREATE INDEX items_n ON items (n)'));
    await expect(again).rejects.toMatchObject({ code: PgErrorCodes.failed, retriable: false, details: { sqlState: '42P07' } });
    // the same statement asking for it only if missing succeeds
    await stores.transaction((tx) => tx.execute('CREATE INDEX IF NOT EXISTS items_n ON items (n)'));
  });

  it('maps a statement cancelled by statement_timeout to a retriable timeout', async () => {
    const stores = await pgStores();
    const slow = stores.transaction(async (tx) => {
      await tx.execute(`SET LOCAL statement_timeout = '50ms'`);
      await tx.query('SELECT pg_sleep(1)');
    });
    await expect(slow).rejects.toMatchObject({ code: PgErrorCodes.timeout, retriable: true, details: { sqlState: '57014' } });
  });

  it('rolls back work still running after transactionTimeoutMs, releasing its locks, and refuses what it writes later', async () => {
    const stores = await pgStores({ transactionTimeoutMs: 400 });
    await stores.transaction(makeTable);
    let release!: () => void;
    let late: Promise<unknown> | undefined;
    const started = Date.now();
    const hung = stores.transaction(async (tx) => {
      await tx.execute('INSERT INTO items (id, n) VALUES ($1, 1)', ['held']);
      await new Promise<void>((resolve) => (release = resolve)); // a call without a deadline
      late = tx.execute('INSERT INTO items (id, n) VALUES ($1, 2)', ['late']).catch((error: unknown) => error);
    });
    await expect(hung).rejects.toMatchObject({ code: ErrorCodes.timeout, retriable: true });
    expect(Date.now() - started).toBeLessThan(5_000);
    // its row lock is gone: the same key can be written at once
    await stores.transaction((tx) => tx.execute('INSERT INTO items (id, n) VALUES ($1, 3)', ['held']));
    release();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await late).toMatchObject({ code: ErrorCodes.closed });
    expect(await stores.transaction((tx) => tx.query<{ id: string; n: number }>('SELECT id, n FROM items ORDER BY id'))).toEqual([{ id: 'held', n: 3 }]);
  });

  it('cancels a statement still running when its transaction rolls back, instead of waiting for it', async () => {
    const stores = await pgStores({ transactionTimeoutMs: 400 });
    const started = Date.now();
    const sleeping = stores.transaction((tx) => tx.query('SELECT pg_sleep(30)'));
    await expect(sleeping).rejects.toMatchObject({ code: ErrorCodes.timeout, retriable: true });
    expect(Date.now() - started, 'rolled back without waiting for the statement').toBeLessThan(5_000);
    const running = await stores.transaction((tx) => tx.query<{ n: number }>("SELECT count(*) AS n FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)' AND state = 'active'"));
    expect(running).toEqual([{ n: 0 }]);
  });

  it('cancels the statement even when no connection is left to spare (a role at its connection limit)', async () => {
    const url = await pgs.database();
    const role = `limited_${process.pid}`;
    const admin = await pgStores({ url });
    await admin.transaction(async (tx) => {
      await tx.execute(`CREATE ROLE ${role} LOGIN CONNECTION LIMIT 1`);
      await tx.execute(`GRANT ALL ON DATABASE "${new URL(url).pathname.slice(1)}" TO ${role}`);
      await tx.execute(`GRANT ALL ON SCHEMA herald TO ${role}`);
      await tx.execute(`GRANT ALL ON ALL TABLES IN SCHEMA herald TO ${role}`);
      await tx.execute(`GRANT ALL ON ALL SEQUENCES IN SCHEMA herald TO ${role}`);
    });
    const limited = new URL(url);
    limited.username = role;
    const stores = await pgStores({ url: limited.toString(), poolSize: 1, transactionTimeoutMs: 400, migrate: false });
    const started = Date.now();
    await expect(stores.transaction((tx) => tx.query('SELECT pg_sleep(30)'))).rejects.toMatchObject({ code: ErrorCodes.timeout });
    expect(Date.now() - started, 'rolled back without waiting for the statement').toBeLessThan(5_000);
    expect(await stores.transaction((tx) => tx.query<{ one: number }>('SELECT 1 AS one'))).toEqual([{ one: 1 }]);
  });

  it('refuses, unsent, what batch-mates run after a failure, with that failure (and its retriability) as the cause', async () => {
    const { pool, sent } = spiedPool(await pgs.database());
    const stores = createPgStores({ pool });
    try {
      await stores.transaction(makeTable);
      let failed!: () => void;
      const firstFailed = new Promise<void>((resolve) => (failed = resolve));
      const outcomes: unknown[] = [];
      sent.length = 0;
      const batch = stores.transaction(async (tx) => {
        // two handlers batched into one transaction: the first loses a race, the second writes after it
        const first = tx.execute(`DO $$ BEGIN RAISE EXCEPTION 'lost a race' USING ERRCODE = '40001'; END $$`).catch((e: unknown) => {
          outcomes.push(e);
          failed();
        });
        const second = firstFailed.then(() => tx.execute(`INSERT INTO items VALUES ('mate', 1)`)).catch((e: unknown) => outcomes.push(e));
        await Promise.all([first, second]);
      });
      await expect(batch).rejects.toMatchObject({ code: PgErrorCodes.conflict, retriable: true });
      const [first, second] = outcomes as HeraldError[];
      expect(first).toMatchObject({ code: PgErrorCodes.conflict, retriable: true, details: { sqlState: '40001' } });
      expect(second).toMatchObject({ code: PgErrorCodes.conflict, retriable: true, details: { sqlState: '40001' } });
      expect(second!.cause).toBe(first);
      expect(sent.filter((text) => text.includes('mate'))).toEqual([]);
    } finally {
      await stores.close();
      await pool.end();
    }
  });

  it('lets work roll back to a savepoint after a failed statement and commit the rest', async () => {
    const stores = await pgStores();
    await stores.transaction(makeTable);
    await stores.transaction(async (tx) => {
      await tx.execute(`INSERT INTO items VALUES ('kept', 1)`);
      await tx.execute('SAVEPOINT attempt');
      await expect(tx.execute(`INSERT INTO items VALUES ('kept', 2)`)).rejects.toMatchObject({ code: PgErrorCodes.constraint });
      await tx.execute('ROLLBACK TO SAVEPOINT attempt');
      await tx.execute(`INSERT INTO items VALUES ('after', 3)`);
    });
    expect(await stores.transaction((tx) => tx.query('SELECT id, n FROM items ORDER BY id'))).toEqual([{ id: 'after', n: 3 }, { id: 'kept', n: 1 }]);
  });

  it('maps a lost connection to a retriable error and keeps serving from a fresh connection', async () => {
    const stores = await pgStores({ poolSize: 2 });
    const lost = await stores
      .transaction(async (tx) => {
        await tx.query('SELECT pg_terminate_backend(pg_backend_pid())');
      })
      .catch((e: unknown) => e);
    expect(isHeraldError(lost)).toBe(true);
    expect(lost).toMatchObject({ code: PgErrorCodes.unavailable, retriable: true });
    for (let i = 0; i < 3; i++) {
      expect(await stores.transaction((tx) => tx.query<{ one: number }>('SELECT 1 AS one'))).toEqual([{ one: 1 }]);
    }
  });

  it('maps a write refused by a server in recovery (25006) to retriable unavailability, and discards the connection so the next one reaches a writable server', async () => {
    const url = await pgs.database();
    const database = new URL(url).pathname.slice(1);
    await (await pgStores({ url })).transaction(makeTable);
    // what a DNS name or a pooler points at for a while during a failover: a server refusing writes
    // (a hot standby answers 25006 read_only_sql_transaction; new sessions of this database do too)
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      await admin.query(`ALTER DATABASE ${database} SET default_transaction_read_only = on`);
      const stores = await pgStores({ url, poolSize: 1 });
      // a statement of the stores' own (the pool's query, which discards a failed connection itself)
      await expect(stores.idempotency.begin({ key: 'k', fingerprint: 'f', now: 1, ttlMs: 1000 })).rejects.toMatchObject({
        code: PgErrorCodes.unavailable,
        retriable: true,
        details: { sqlState: '25006' },
      });
      const refused = await stores.transaction((tx) => tx.execute(`INSERT INTO items VALUES ('during', 1)`)).catch((e: unknown) => e);
      expect(refused).toMatchObject({ code: PgErrorCodes.unavailable, retriable: true, details: { sqlState: '25006' } });
      // the failover completes: the name points at a writable primary again. The transaction's
      // connection, kept in the pool, would still be the read-only session; a new one writes
      await admin.query(`ALTER DATABASE ${database} RESET default_transaction_read_only`);
      await stores.transaction((tx) => tx.execute(`INSERT INTO items VALUES ('after', 2)`));
      expect(await stores.transaction((tx) => tx.query('SELECT id FROM items'))).toEqual([{ id: 'after' }]);
    } finally {
      await admin.end();
    }
  });

  it('bounds the writes deferred to commit by transactionTimeoutMs: the outbox insert waiting on a lock is cancelled and rolled back', async () => {
    const url = await pgs.database();
    const stores = await pgStores({ url, transactionTimeoutMs: 400 });
    await stores.transaction(makeTable);
    // another session (a batch job, another process) appended the same event id and has not committed
    const other = new pg.Client({ connectionString: url });
    await other.connect();
    let otherEnded = false;
    let ending: Promise<void> | undefined;
    /** Ends the other session's transaction (once). */
    const endOther = () => (ending ??= other.query('ROLLBACK').then(() => void (otherEnded = true)));
    // it ends once the test is done with it; on its own only long past our deadline, so that a
    // transaction waiting for it (the failure this test is for) ends too
    const fallback = setTimeout(() => void endOther(), 10_000);
    try {
      await other.query('BEGIN');
      await other.query(`INSERT INTO herald.outbox (id, topic, key, type, correlation_id, value, headers, created_at) VALUES ('e1', 'orders', 'k1', 'T', 'theirs', '{}', '{}', 0)`);
      const waiting = stores.transaction(async (tx) => {
        await tx.execute(`INSERT INTO items VALUES ('ours', 1)`);
        await stores.outbox.append(tx, [record('e1')]);
      });
      await expect(waiting).rejects.toMatchObject({ code: ErrorCodes.timeout, retriable: true });
      expect(otherEnded, 'rolled back at the deadline, while the other session still held the row').toBe(false);
      // the insert was cancelled, not left waiting on the server
      const stuck = await other.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()`);
      expect(stuck.rows).toEqual([{ n: 0 }]);
    } finally {
      clearTimeout(fallback);
      await endOther();
      await other.end();
    }
    expect(await stores.transaction((tx) => tx.query('SELECT id FROM items'))).toEqual([]);
    expect(await stores.outbox.findByCorrelation('c-e1')).toEqual([]);
  });

  it('reports a COMMIT still running 2 s past transactionTimeoutMs as of unknown outcome, and discards its connection; a shorter one commits', async () => {
    const url = await pgs.database();
    const stores = await pgStores({ url, poolSize: 1, transactionTimeoutMs: 400 });
    // a deferred constraint trigger runs inside COMMIT: here it makes COMMIT take n seconds, then
    // wait for advisory lock 7, which is free unless the test holds it
    await stores.transaction(async (tx) => {
      await makeTable(tx);
      await tx.execute(`CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(NEW.n); PERFORM pg_advisory_xact_lock(7); RETURN NULL; END $$`);
      await tx.execute(`CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON items DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit()`);
    });
    // work that takes most of the time, then a COMMIT of a second: within the grace, a normal commit
    await stores.transaction(async (tx) => {
      await tx.query('SELECT pg_sleep(0.3)');
      await tx.execute(`INSERT INTO items VALUES ('normal', 1)`);
    });

    // a COMMIT that runs until the test lets it go: it waits for the advisory lock another session holds
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    await holder.query('SELECT pg_advisory_lock(7)');
    let unlocking: Promise<unknown> | undefined;
    /** Lets that COMMIT go on (once). */
    const unlock = () => (unlocking ??= holder.query('SELECT pg_advisory_unlock(7)'));
    // let go on its own only long past the grace, so that a transaction waiting for that COMMIT
    // (the failures this test is for) ends too
    const fallback = setTimeout(() => void unlock(), 20_000);
    /** The backends of this database running a COMMIT that waits for the advisory lock. */
    const waitingCommits = `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND query = 'COMMIT' AND wait_event = 'advisory'`;
    try {
      const unknown = await stores.transaction((tx) => tx.execute(`INSERT INTO items VALUES ('slow', 0)`)).catch((e: unknown) => e);
      expect(unknown).toMatchObject({ code: ErrorCodes.timeout, retriable: true, details: { commitOutcome: 'unknown' } });
      // given up while that COMMIT still runs, not when it ended
      expect((await holder.query<{ n: number }>(waitingCommits)).rows, 'the COMMIT still running when its outcome was reported unknown').toEqual([{ n: 1 }]);
      // the only pooled connection is still committing: a new one serves the next transaction meanwhile
      const during = await stores.transaction(async (tx) => ({
        items: await tx.query<{ id: string }>('SELECT id FROM items ORDER BY id'),
        committing: await tx.query<{ n: number }>(waitingCommits),
      }));
      expect(during, 'the next transaction ran while that COMMIT was still running').toEqual({ items: [{ id: 'normal' }], committing: [{ n: 1 }] });
    } finally {
      clearTimeout(fallback);
      await unlock();
      await holder.end();
    }
    // unknown indeed: here the COMMIT went on and committed
    await eventually(async () => (await stores.transaction((tx) => tx.query('SELECT id FROM items'))).length === 2, { what: 'the slow commit', timeoutMs: 10_000 });
  });

  it('close() waits for its transactions in flight on a pool it was given, and leaves that pool open', async () => {
    const pool = new pg.Pool({ connectionString: await pgs.database() });
    try {
      const stores = createPgStores({ pool });
      await stores.transaction(makeTable);
      let entered!: () => void;
      const inside = new Promise<void>((resolve) => (entered = resolve));
      let committed = false;
      const running = stores
        .transaction(async (tx) => {
          entered();
          await tx.query('SELECT pg_sleep(0.5)');
          await tx.execute(`INSERT INTO items VALUES ('late', 1)`);
        })
        .then(() => (committed = true));
      await inside;
      await stores.close();
      expect(committed, 'close() resolved before the transaction committed').toBe(true);
      await running;
      expect((await pool.query('SELECT id FROM items')).rows).toEqual([{ id: 'late' }]);
    } finally {
      await pool.end();
    }
  });

  it('fails fast with a retriable error when the server cannot be reached', async () => {
    const { pgStores: create } = await import('../src/index.js');
    const stores = create({ connectionString: 'postgres://postgres@127.0.0.1:1/none', connectTimeoutMs: 2000 });
    try {
      await expect(stores.transaction(async () => 1)).rejects.toMatchObject({ code: PgErrorCodes.unavailable, retriable: true });
    } finally {
      await stores.close();
    }
  });

  it('tells in-process listeners about committed appends only', async () => {
    const stores = await pgStores();
    let calls = 0;
    const off = stores.onAppended(() => calls++);
    await stores.transaction((tx) => stores.outbox.append(tx, [record('s1')]));
    await expect(
      stores.transaction(async (tx) => {
        await stores.outbox.append(tx, [record('s2')]);
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    await stores.transaction((tx) => tx.query('SELECT 1'));
    expect(calls).toBe(1);
    off();
    await stores.transaction((tx) => stores.outbox.append(tx, [record('s3')]));
    expect(calls).toBe(1);
  });

  it('close() waits for a transaction in flight, then refuses new work', async () => {
    const stores = await pgStores();
    await stores.transaction(makeTable);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const inside = new Promise<void>((resolve) => (entered = resolve));
    const running = stores.transaction(async (tx) => {
      entered();
      await gate;
      await tx.execute(`INSERT INTO items VALUES ('late', 1)`);
    });
    await inside;
    const closing = stores.close();
    await expect(stores.transaction(async () => 1)).rejects.toMatchObject({ code: 'closed' });
    release();
    await running;
    await closing;
    await stores.close();
    const check = await pgs.stores({ url: stores.pool.options.connectionString });
    expect(await check.transaction((tx) => tx.query('SELECT id FROM items'))).toEqual([{ id: 'late' }]);
  });
});

function pgStores(options: Parameters<typeof pgs.stores>[0] = {}) {
  return pgs.stores(options);
}
