import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { migrate, pgStores } from '../src/index.js';
import { MIGRATIONS } from '../src/internal/migrations.js';
import { resolvePgStoresOptions, type PgStoresOptions } from '../src/options.js';
import { tablesFor } from '../src/internal/tables.js';
import { rows, schemaAt, usePostgres } from './support.js';

const pgs = usePostgres();
const ALL = MIGRATIONS.map((m) => m.version);
const LATEST = ALL.at(-1)!;

const t = tablesFor('herald');


/**
 * `begin` as the release before version 10 ran it, on its own connection: it knows no owner or
 * lease, and takes a key that is absent or expired. Whether it took the key.
 */
async function earlierReleaseBegins(url: string, key: string, now: number): Promise<boolean> {
  const old = new pg.Client({ connectionString: url });
  await old.connect();
  try {
    const taken = await old.query(
      `INSERT INTO ${t.idempotency} AS i (key, fingerprint, state, response, created_at, expires_at)
        VALUES ($1, 'f', 'in-flight', NULL, $2::bigint, $2::bigint + 86400000)
        ON CONFLICT (key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, state = 'in-flight', response = NULL,
          created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at
          WHERE i.expires_at <= $2::bigint RETURNING 1 AS started`,
      [key, now],
    );
    return taken.rowCount === 1;
  } finally {
    await old.end();
  }
}

describe('migrate', () => {
  it('applies each migration once when several processes start at the same time', async () => {
    const url = await pgs.database();
    const results = await Promise.all([migrate({ connectionString: url }), migrate({ connectionString: url }), migrate({ connectionString: url })]);
    const applied = results.flatMap((r) => r.applied);
    expect(applied).toEqual(ALL);
    expect(results.map((r) => r.version)).toEqual([LATEST, LATEST, LATEST]);
    const versions = await rows<{ version: number }>(url, 'SELECT version FROM herald.schema_migrations ORDER BY version');
    expect(versions.map((r) => r.version)).toEqual(ALL);
    const tables = await rows<{ table_name: string }>(url, `SELECT table_name FROM information_schema.tables WHERE table_schema = 'herald' ORDER BY table_name`);
    expect(tables.map((r) => r.table_name)).toEqual(['dead_letters', 'idempotency_keys', 'inbox', 'outbox', 'outbox_marks', 'outbox_slots', 'sagas', 'schema_migrations', 'timers', 'window_partitions', 'windows']);
  });

  it('is a no-op on a current schema', async () => {
    const url = await pgs.database();
    expect((await migrate({ connectionString: url })).applied).toEqual(ALL);
    expect(await migrate({ connectionString: url })).toEqual({ applied: [], version: LATEST });
  });

  it('runs no DDL on a current schema: a role with USAGE and DML only migrates and works', async () => {
    const url = await pgs.database();
    await migrate({ connectionString: url });
    const role = `app_${process.pid}`;
    const database = new URL(url).pathname.slice(1);
    await rows(url, `CREATE ROLE ${role} LOGIN; REVOKE CREATE ON DATABASE ${database} FROM PUBLIC;
      GRANT USAGE ON SCHEMA herald TO ${role}; GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA herald TO ${role};
      GRANT USAGE ON ALL SEQUENCES IN SCHEMA herald TO ${role}`);
    const appUrl = url.replace('postgres@', `${role}@`);
    expect(await migrate({ connectionString: appUrl })).toEqual({ applied: [], version: LATEST });
    const stores = pgStores({ connectionString: appUrl });
    try {
      await stores.transaction((tx) => stores.inbox.markHandled(tx, { group: 'g', eventId: 'e1', handledAt: 1 }));
      expect(await stores.inbox.findHandled(['e1'])).toHaveLength(1);
    } finally {
      await stores.close();
    }
    // a schema with a version missing still needs the privileged role
    await rows(url, `DELETE FROM ${t.migrations} WHERE version = ${LATEST}`);
    await expect(migrate({ connectionString: appUrl })).rejects.toMatchObject({ code: 'store-failed', details: { sqlState: '42501' } });
  });

  it('upgrades a schema left at an older version, applying only what it lacks', async () => {
    const url = await pgs.database();
    await migrate({ connectionString: url });
    // the state a database migrated by the first release is in: version 1, with its index
    await rows(url, `CREATE INDEX outbox_pending_key ON herald.outbox (topic, key, seq) WHERE published_at IS NULL; DELETE FROM herald.schema_migrations WHERE version = 2`);
    const indexes = () => rows<{ indexname: string }>(url, `SELECT indexname FROM pg_indexes WHERE schemaname = 'herald' AND indexname = 'outbox_pending_key'`);
    expect(await indexes()).toHaveLength(1);
    expect(await migrate({ connectionString: url })).toEqual({ applied: [2], version: LATEST });
    expect(await indexes()).toEqual([]);
  });

  it('upgrades a version 2 schema for retention: resolved letters count from the upgrade, discarded is admitted', async () => {
    const url = await pgs.database();
    // exactly what the first two migrations left, with letters in it
    await schemaAt(url, 2);
    const insert = (id: string, status: string) =>
      rows(url, `INSERT INTO ${t.deadLetters} (id, group_name, handler, topic, partition, log_offset, key, reason, error, attempts,
        first_failure_at, last_failure_at, envelope, headers, policy, status) VALUES ('${id}', 'g', 'h', 'orders', 0, 0, 'k', 'r', '{}', 1, 1, 1, '{}', '{}', 'skip', '${status}')`);
    await insert('old-redriven', 'redriven');
    await insert('old-dead', 'dead');
    await expect(insert('early-discarded', 'discarded')).rejects.toThrow(/dead_letters_status_check/);
    const before = Date.now();
    expect(await migrate({ connectionString: url })).toEqual({ applied: ALL.slice(2), version: LATEST });
    const letters = await rows<{ id: string; resolved_at: string | null }>(url, `SELECT id, resolved_at FROM ${t.deadLetters} ORDER BY id`);
    expect(letters.map((l) => [l.id, l.resolved_at === null])).toEqual([['old-dead', true], ['old-redriven', false]]);
    // the database clock stamped it during the upgrade: it is kept a whole retention from now, not from its last failure
    expect(Number(letters[1]!.resolved_at)).toBeGreaterThanOrEqual(before - 60_000);
    await rows(url, `UPDATE ${t.deadLetters} SET status = 'discarded', resolved_at = 5 WHERE id = 'old-dead'`);
    await expect(rows(url, `UPDATE ${t.deadLetters} SET status = 'dead' WHERE id = 'old-dead'`)).rejects.toThrow(/dead_letters_resolved_at_check/);
    // letters from before fingerprints (migration 4) read back with an empty one
    const stores = pgStores({ connectionString: url });
    try {
      expect((await stores.deadLetters.list()).map((l) => [l.id, l.fingerprint])).toEqual([['old-redriven', ''], ['old-dead', '']]);
    } finally {
      await stores.close();
    }
  });

  it('upgrades a version 4 schema to the column names of @herald/sql, letters reading back whole', async () => {
    const url = await pgs.database();
    await schemaAt(url, 4);
    // a letter as the previous release wrote it: offset in log_offset, no headers as '{}'
    await rows(url, `INSERT INTO ${t.deadLetters} (id, group_name, handler, event_id, event_type, topic, partition, log_offset, key, reason, fingerprint,
        error, attempts, first_failure_at, last_failure_at, envelope, headers, policy, status)
      VALUES ('before', 'g', 'g:H', 'e1', 'T', 'orders', 2, 1099511627776, 'k', 'handler-failed', 'fp', '{"name":"Error","message":"boom"}', 3, 10, 20,
        '{"id":"e1"}', '{}', 'park-key', 'dead')`);
    expect(await migrate({ connectionString: url })).toEqual({ applied: ALL.slice(4), version: LATEST });
    const columns = await rows<{ column_name: string }>(url, `SELECT column_name FROM information_schema.columns
      WHERE table_schema = 'herald' AND table_name = 'dead_letters' AND column_name LIKE '%offset' ORDER BY 1`);
    expect(columns.map((c) => c.column_name)).toEqual(['record_offset']);
    const stores = pgStores({ connectionString: url });
    try {
      const [before] = await stores.deadLetters.list();
      expect(before).toEqual({
        id: 'before',
        group: 'g',
        handler: 'g:H',
        eventId: 'e1',
        eventType: 'T',
        topic: 'orders',
        partition: 2,
        offset: 2 ** 40,
        key: 'k',
        reason: 'handler-failed',
        fingerprint: 'fp',
        error: { name: 'Error', message: 'boom' },
        attempts: 3,
        firstFailureAt: 10,
        lastFailureAt: 20,
        envelope: '{"id":"e1"}',
        headers: {},
        policy: 'park-key',
        status: 'dead',
      });
      const after = { ...before!, id: 'after', offset: 7, headers: { a: 'b' } };
      await stores.deadLetters.add(after);
      expect(await stores.deadLetters.list()).toEqual([before, after]);
      expect(await stores.deadLetters.isKeyParked('g', 'orders', 'k')).toBe(true);
    } finally {
      await stores.close();
    }
  });

  it('upgrades a version 6 outbox to slots: what waited is relayed in order, what was published stays published', async () => {
    const url = await pgs.database();
    const t = tablesFor('herald');
    await rows(url, `CREATE SCHEMA herald; CREATE TABLE ${t.migrations} (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    for (const m of MIGRATIONS.filter((m) => m.version <= 6)) await rows(url, `${m.sql(t)}; INSERT INTO ${t.migrations} (version, name) VALUES (${m.version}, 'v${m.version}')`);
    // key a: two published, then one waiting; key b: all published (one after a's waiting one); key c: waiting
    const legacy: [string, string, number | null][] = [
      ['a1', 'a', 10],
      ['b1', 'b', 11],
      ['a2', 'a', 12],
      ['c1', 'c', null],
      ['a3', 'a', null],
      ['b2', 'b', 13],
    ];
    for (const [id, key, publishedAt] of legacy) {
      await rows(url, `INSERT INTO ${t.outbox} (id, topic, key, type, correlation_id, value, headers, created_at, published_at)
        VALUES ('${id}', 'orders', '${key}', 'T', 'corr-${id}', '{}', '{}', 1, ${publishedAt ?? 'NULL'})`);
    }
    expect((await migrate({ connectionString: url })).applied).toEqual(ALL.filter((v) => v > 6));
    const stores = pgStores({ connectionString: url });
    try {
      const waiting = await stores.outbox.claim({ relayId: 'r', limit: 100, leaseMs: 10_000 });
      expect(waiting.map((r) => r.id)).toEqual(['c1', 'a3']);
      await stores.outbox.markPublished('r', waiting.map((r) => r.id));
      expect(await stores.outbox.claim({ relayId: 'r', limit: 100, leaseMs: 10_000 })).toEqual([]);
      expect(await stores.outbox.backlog()).toEqual([]);
      expect((await stores.outbox.findByCorrelation('corr-b2')).map((e) => e.publishedAt)).toEqual([13]);
      expect((await stores.outbox.findByCorrelation('corr-a3'))[0]!.publishedAt).toEqual(expect.any(Number));
    } finally {
      await stores.close();
    }
  });

  it('relays a row a previous-release process appends after the slot migration, from a transaction older than it', async () => {
    const url = await pgs.database();
    await schemaAt(url, 6);
    await rows(url, `INSERT INTO ${t.outbox} (id, topic, key, type, correlation_id, value, headers, created_at, published_at)
      VALUES ('before', 'orders', 'k', 'T', 'c', '{}', '{}', 1, 1), ('waiting', 'orders', 'k', 'T', 'c', '{}', '{}', 1, NULL)`);
    // a handler of the previous release, in flight across the upgrade: its inbox mark gave its
    // transaction an id older than the migration's
    const old = new pg.Client({ connectionString: url });
    await old.connect();
    try {
      await old.query('BEGIN');
      await old.query(`INSERT INTO ${t.inbox} (event_id, group_name, handled_at) VALUES ('in-1', 'g', 1)`);
      expect((await migrate({ connectionString: url })).applied).toEqual(ALL.filter((v) => v > 6));
      // it appends the way that release did (no txid column) and commits
      await old.query(`INSERT INTO ${t.outbox} (id, topic, key, type, correlation_id, value, headers, created_at) VALUES ('during', 'orders', 'k', 'T', 'c', '{}', '{}', 2)`);
      await old.query('COMMIT');
    } finally {
      await old.end();
    }
    const stores = pgStores({ connectionString: url });
    try {
      await stores.transaction((tx) => stores.outbox.append(tx, [{ id: 'after', topic: 'orders', key: 'k', type: 'T', correlationId: 'c', value: '{}', headers: {}, createdAt: 3 }]));
      expect(await stores.outbox.backlog()).toEqual([{ topic: 'orders', pending: 3, oldestCreatedAt: 1 }]);
      const claimed = await stores.outbox.claim({ relayId: 'r', limit: 100, leaseMs: 10_000 });
      expect(claimed.map((r) => r.id)).toEqual(['waiting', 'during', 'after']);
      await stores.outbox.markPublished('r', claimed.map((r) => r.id));
      expect(await stores.outbox.backlog()).toEqual([]);
    } finally {
      await stores.close();
    }
  });

  it('upgrades version 9 idempotency keys: a completed key still replays, one in flight is taken over once its 60 s lease lapses', async () => {
    const url = await pgs.database();
    await schemaAt(url, 9);
    await rows(url, `INSERT INTO ${t.idempotency} (key, fingerprint, state, response, created_at, expires_at) VALUES
      ('done', 'f', 'completed', '{"status":201}', 1000, 86401000), ('running', 'f', 'in-flight', NULL, 1000, 86401000)`);
    expect((await migrate({ connectionString: url })).applied).toEqual(ALL.filter((v) => v > 9));
    const stores = pgStores({ connectionString: url });
    try {
      const begin = (key: string, now: number) => stores.idempotency.begin({ key, fingerprint: 'f', now, ttlMs: 86_400_000, leaseMs: 5_000 });
      expect(await begin('done', 70_000)).toEqual({ outcome: 'completed', response: { status: 201 } });
      expect(await begin('running', 60_999)).toEqual({ outcome: 'in-flight' });
      expect(await begin('running', 61_000)).toEqual({ outcome: 'started', owner: expect.any(String) });
    } finally {
      await stores.close();
    }
  });

  it('gives a key a previous-release process begins after the upgrade a live 60 s lease: a retry on an upgraded process finds it in flight', async () => {
    const url = await pgs.database();
    await schemaAt(url, 9);
    expect((await migrate({ connectionString: url })).applied).toEqual(ALL.filter((v) => v > 9));
    // a process of the release before version 10, still running: its begin knows no owner or lease
    const now = Date.now();
    expect(await earlierReleaseBegins(url, 'order-42', now)).toBe(true);
    const [row] = await rows<{ lease_expires_at: string }>(url, `SELECT lease_expires_at FROM ${t.idempotency} WHERE key = 'order-42'`);
    // the database clock's now() at the insert, plus 60 s (the hosts' clocks are one here)
    expect(Number(row!.lease_expires_at) - now).toBeGreaterThanOrEqual(60_000 - 1_000);
    expect(Number(row!.lease_expires_at) - now).toBeLessThanOrEqual(60_000 + 5_000);
    const stores = pgStores({ connectionString: url });
    try {
      const begin = (at: number) => stores.idempotency.begin({ key: 'order-42', fingerprint: 'f', now: at, ttlMs: 86_400_000, leaseMs: 60_000 });
      // the client's retry, 50 ms later, while the old attempt runs: not taken over
      expect(await begin(now + 50)).toEqual({ outcome: 'in-flight' });
      // the old process died: its key is taken over once the lease lapsed, not a whole ttl later
      expect(await begin(now + 70_000)).toEqual({ outcome: 'started', owner: expect.any(String) });
    } finally {
      await stores.close();
    }
  });

  it('holds a key the previous release took over after its ttl for 60 s too: its upsert keeps the earlier lease, which the claim does not trust', async () => {
    const url = await pgs.database();
    await schemaAt(url, 9);
    await migrate({ connectionString: url });
    const stores = pgStores({ connectionString: url });
    const t0 = Date.now() - 3_600_000;
    try {
      // an upgraded process took the key an hour ago, with a one-minute ttl and a 10 s lease
      expect(await stores.idempotency.begin({ key: 'order-7', fingerprint: 'f', now: t0, ttlMs: 60_000, leaseMs: 10_000 })).toMatchObject({ outcome: 'started' });
      // long expired, the key is taken again by a process of the release before version 10
      const now = Date.now();
      expect(await earlierReleaseBegins(url, 'order-7', now)).toBe(true);
      const [row] = await rows<{ lease_expires_at: string }>(url, `SELECT lease_expires_at FROM ${t.idempotency} WHERE key = 'order-7'`);
      expect(Number(row!.lease_expires_at)).toBe(t0 + 10_000);
      const begin = (at: number) => stores.idempotency.begin({ key: 'order-7', fingerprint: 'f', now: at, ttlMs: 86_400_000, leaseMs: 60_000 });
      expect(await begin(now + 50)).toEqual({ outcome: 'in-flight' });
      expect(await begin(now + 70_000)).toEqual({ outcome: 'started', owner: expect.any(String) });
    } finally {
      await stores.close();
    }
  });

  it('fails for good, naming the clash, when the schema holds another tool\'s table of a name a migration creates', async () => {
    const url = await pgs.database();
    await rows(url, 'CREATE SCHEMA herald; CREATE TABLE herald.timers (id integer)');
    for (let attempt = 0; attempt < 2; attempt++) {
      const clash = await migrate({ connectionString: url }).catch((error: unknown) => error);
      expect(clash).toMatchObject({ code: 'store-failed', retriable: false, details: { sqlState: '42P07' } });
      expect((clash as Error).message).toMatch(/version 8 \(timers and saga instances\): relation "timers" already exists: schema "herald" holds an object of that name/);
    }
    // nothing of the run was kept: the same clash, every time, until the table is moved
    expect(await rows(url, `SELECT to_regclass('herald.outbox') AS outbox`)).toEqual([{ outbox: null }]);
    await rows(url, 'ALTER TABLE herald.timers SET SCHEMA public');
    expect((await migrate({ connectionString: url })).applied).toEqual(ALL);
  });

  it('keeps schemas apart, and pgStores migrates its own before first use', async () => {
    const url = await pgs.database();
    const a = pgStores({ connectionString: url, schema: 'svc_a' });
    const b = pgStores({ connectionString: url, schema: 'svc_b' });
    try {
      await a.transaction((tx) => a.inbox.markHandled(tx, { group: 'g', eventId: 'e1', handledAt: 1 }));
      expect(await a.inbox.findHandled(['e1'])).toHaveLength(1);
      expect(await b.inbox.findHandled(['e1'])).toEqual([]);
      const schemas = await rows<{ schema_name: string }>(url, `SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE 'svc_%' ORDER BY 1`);
      expect(schemas.map((r) => r.schema_name)).toEqual(['svc_a', 'svc_b']);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('refuses unsafe schema names and contradictory options', () => {
    expect(() => pgStores({ connectionString: 'postgres://x', schema: 'bad"; drop' })).toThrow(/schema must match/);
    expect(() => pgStores({})).toThrow(/exactly one of connectionString or pool/);
    expect(() => pgStores({ connectionString: 'postgres://x', poolSize: 0 })).toThrow(/poolSize/);
    for (const name of ['outboxRetentionMs', 'inboxRetentionMs', 'deadLetterRetentionMs', 'sagaRetentionMs', 'sweepIntervalMs']) {
      for (const value of [0, -1, 1.5, Number.POSITIVE_INFINITY]) {
        expect(() => pgStores({ connectionString: 'postgres://x', [name]: value }), `${name}: ${value}`).toThrow(
          expect.objectContaining({ code: 'invalid-options', message: expect.stringContaining(name) as unknown }),
        );
      }
    }
    // a longer timer delay fires at once in Node: the sweep would never pause, every connect would time out
    expect(() => pgStores({ connectionString: 'postgres://x', sweepIntervalMs: 2 ** 31 })).toThrow(/sweepIntervalMs must be at most/);
    expect(() => pgStores({ connectionString: 'postgres://x', connectTimeoutMs: 2 ** 31 })).toThrow(
      expect.objectContaining({ code: 'invalid-options', message: expect.stringContaining('connectTimeoutMs must be at most 2147483647') as unknown }),
    );
    expect(resolvePgStoresOptions({ connectionString: 'postgres://x', connectTimeoutMs: 2 ** 31 - 1 }).connectTimeoutMs).toBe(2 ** 31 - 1);
    expect(() => pgStores({ connectionString: 'postgres://x', schema: 'Bad' })).toThrow(expect.objectContaining({ code: 'invalid-options' }));
  });

  it('keeps saga instances at least as long as inbox marks: a shorter sagaRetentionMs is refused, the default follows a longer inbox retention', () => {
    const DAY = 24 * 60 * 60 * 1000;
    expect(() => pgStores({ connectionString: 'postgres://x', inboxRetentionMs: 10 * DAY, sagaRetentionMs: 10 * DAY - 1 })).toThrow(
      expect.objectContaining({ code: 'invalid-options', message: expect.stringContaining(`sagaRetentionMs (${10 * DAY - 1}) must be at least inboxRetentionMs (${10 * DAY})`) as unknown }),
    );
    // the inbox's default (7 days) counts too
    expect(() => pgStores({ connectionString: 'postgres://x', sagaRetentionMs: DAY })).toThrow(expect.objectContaining({ code: 'invalid-options' }));
    const resolved = (options: PgStoresOptions) => resolvePgStoresOptions({ connectionString: 'postgres://x', ...options }).sagaRetentionMs;
    expect(resolved({})).toBe(30 * DAY);
    expect(resolved({ inboxRetentionMs: 60 * DAY })).toBe(60 * DAY);
    expect(resolved({ inboxRetentionMs: 10 * DAY, sagaRetentionMs: 10 * DAY })).toBe(10 * DAY);
    expect(resolved({ sagaRetentionMs: 90 * DAY })).toBe(90 * DAY);
  });
});
