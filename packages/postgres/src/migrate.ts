import { CoreErrors, HeraldError } from '@herald/core';
import pg from 'pg';
import type { Pool, PoolClient } from 'pg';
import { isIdempotentDdl, PgErrorCodes, PgErrors, toStoreError } from './errors.js';
import { repairForeignIds, type ForeignIdRepair } from './internal/foreignIds/foreignIds.js';
import { MIGRATIONS } from './internal/migrations.js';
import { tablesFor, type Tables } from './internal/tables.js';

export interface MigrateOptions {
  /** Where to connect (ignored when `pool` is given). */
  readonly connectionString?: string;
  /** An existing pool to borrow one connection from; it is left open. */
  readonly pool?: Pool;
  /** Schema holding Herald's tables. Default `herald`. */
  readonly schema?: string;
  /**
   * How long a migration may wait for a table's lock, in ms. Default {@link MIGRATION_LOCK_TIMEOUT_MS};
   * 0 waits as long as it takes. See {@link migrate}.
   */
  readonly lockTimeoutMs?: number;
}

/**
 * A migration's statements wait this long for a table's lock (10 s). A schema change takes the
 * table's ACCESS EXCLUSIVE lock, and while it waits for one a long transaction holds (a report, an
 * idle session in a transaction), every later statement on that table queues behind it: running
 * processes of the previous release would stop reading and writing it for as long as that
 * transaction lasts. Past this bound the migration gives up, leaves the schema as it was and fails
 * with `store-conflict` (retriable): the stores try again at their next use.
 */
export const MIGRATION_LOCK_TIMEOUT_MS = 10_000;

/** The SQLSTATE of a statement that gave up waiting for a lock (`lock_timeout`). */
const LOCK_NOT_AVAILABLE = '55P03';

/** PostgreSQL's largest `lock_timeout`, in ms. */
const MAX_LOCK_TIMEOUT_MS = 2 ** 31 - 1;

export interface MigrateResult {
  /** Versions applied by this call, ascending (empty when the schema was already current). */
  readonly applied: readonly number[];
  /** The schema's version afterwards. */
  readonly version: number;
  /**
   * What was repaired after the database was copied from another PostgreSQL cluster (transaction
   * ids this cluster never assigned; see the README, moving the database); absent when nothing was.
   */
  readonly repaired?: ForeignIdRepair;
}

/**
 * Brings Herald's schema up to date. Each versioned migration runs once: applied versions are kept
 * in `<schema>.schema_migrations`, and the whole run holds a transaction-scoped advisory lock, so
 * any number of processes may call this at once (the first applies, the others wait and find
 * nothing to do). All pending migrations apply in one transaction: a failure leaves the schema as
 * it was. A migration waits at most `lockTimeoutMs` (10 s) for a table lock held by another session
 * ({@link MIGRATION_LOCK_TIMEOUT_MS}: a schema change waiting on a lock stops every other use of
 * the table). Waiting for another process that migrates is not bounded. On a current schema it only reads the applied versions (no DDL, no lock), so a role with
 * USAGE on the schema and DML on its tables may call it (and run `pgStores`) once the schema was
 * migrated by a role that may create it. `pgStores` calls it before first use unless told not to.
 *
 * Then it looks for transaction ids this cluster never assigned, which a copy from another cluster
 * (pg_dump/pg_restore, logical replication) brings along in the outbox and the dead letters, and
 * repairs them in one transaction under the tables' locks (`repaired` says what it changed): one
 * more read-only statement when there are none.
 *
 * @example
 * await migrate({ connectionString: process.env.DATABASE_URL });
 */
export async function migrate(options: MigrateOptions): Promise<MigrateResult> {
  const tables = tablesFor(options.schema ?? 'herald');
  const lockTimeoutMs = options.lockTimeoutMs ?? MIGRATION_LOCK_TIMEOUT_MS;
  if (!Number.isSafeInteger(lockTimeoutMs) || lockTimeoutMs < 0 || lockTimeoutMs > MAX_LOCK_TIMEOUT_MS) {
    throw new HeraldError(CoreErrors.invalidOptions, `migrate: lockTimeoutMs must be a whole number of ms from 0 (wait as long as it takes) to ${MAX_LOCK_TIMEOUT_MS}, got ${String(lockTimeoutMs)}`);
  }
  if (options.pool) return runMigrations(options.pool, tables, lockTimeoutMs);
  if (!options.connectionString) throw new HeraldError(CoreErrors.invalidOptions, 'migrate: give connectionString or pool');
  const pool = new pg.Pool({ connectionString: options.connectionString, max: 1 });
  try {
    return await runMigrations(pool, tables, lockTimeoutMs);
  } finally {
    await pool.end();
  }
}

/** Applies pending migrations over one pooled connection (see {@link migrate}). */
export async function runMigrations(pool: Pool, t: Tables, lockTimeoutMs = MIGRATION_LOCK_TIMEOUT_MS): Promise<MigrateResult> {
  let client;
  try {
    client = await pool.connect();
  } catch (error) {
    throw toStoreError(error, 'migrate: connect');
  }
  let failed: unknown;
  const onClientError = (error: Error) => (failed ??= error);
  client.on('error', onClientError);
  // what was sent last, so a failure is mapped by what that statement was
  let step: Step = { sql: '', context: 'migrate' };
  const run = (next: Step, values?: unknown[]) => {
    step = next;
    return client.query(next.sql, values);
  };
  const withRepair = async (result: MigrateResult): Promise<MigrateResult> => {
    const repaired = await repairForeignIds(client, t, (context) => (step = { sql: '', context: `migrate: ${context}` }));
    return repaired ? { ...result, repaired } : result;
  };
  try {
    const current = await appliedVersions(client, t);
    if (current && MIGRATIONS.every((m) => current.has(m.version))) {
      return withRepair({ applied: [], version: Math.max(0, ...current) });
    }
    await run({ sql: 'BEGIN', context: 'migrate' });
    await run({ sql: `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, context: 'migrate: lock' }, [`herald:migrate:${t.schema}`]);
    // bounded after the advisory lock: a process waits for another's migration as long as it runs
    await run({ sql: `SET LOCAL lock_timeout = ${lockTimeoutMs}`, context: 'migrate: lock timeout' });
    await run({ sql: `CREATE SCHEMA IF NOT EXISTS ${t.schema}`, context: `migrate: schema ${t.schema}` });
    await run({
      sql: `CREATE TABLE IF NOT EXISTS ${t.migrations} (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
      context: 'migrate: migrations table',
    });
    const done = await client.query<{ version: number }>(`SELECT version FROM ${t.migrations}`);
    const have = new Set(done.rows.map((r) => r.version));
    const applied: number[] = [];
    for (const migration of MIGRATIONS) {
      if (have.has(migration.version)) continue;
      const context = `migrate: version ${migration.version} (${migration.name})`;
      await run({ sql: migration.sql(t), context });
      await run({ sql: `INSERT INTO ${t.migrations} (version, name) VALUES ($1, $2)`, context }, [migration.version, migration.name]);
      applied.push(migration.version);
    }
    await run({ sql: 'COMMIT', context: 'migrate: commit' });
    return await withRepair({ applied, version: Math.max(0, ...have, ...applied) });
  } catch (error) {
    failed = error;
    await client.query('ROLLBACK').catch(() => {});
    throw migrationError(error, step, t, lockTimeoutMs);
  } finally {
    // after a failure the connection's state is unknown: discard it rather than return it to the pool
    client.removeListener('error', onClientError);
    client.release(failed !== undefined);
  }
}

/** A statement of the migration run, and what to call it in an error. */
interface Step {
  readonly sql: string;
  readonly context: string;
}

/**
 * Maps a failure of `step`. Only a statement that creates what does not exist yet (`IF NOT
 * EXISTS`: the schema, the migrations table) can meet an object a concurrent session has just
 * created, a race worth retrying. The migrations themselves create with plain `CREATE` under the
 * advisory lock, which every Herald process migrating this schema takes: an existing object of a
 * name they create was made by something else (another tool's table in the schema), a clash that
 * fails the same way every time, so it is final and says what to do.
 */
function migrationError(thrown: unknown, step: Step, t: Tables, lockTimeoutMs: number): HeraldError {
  const error = toStoreError(thrown, step.context, { idempotentDdl: isIdempotentDdl(step.sql) });
  const sqlState = error.details?.sqlState;
  if (sqlState === LOCK_NOT_AVAILABLE) {
    return new HeraldError(PgErrors.conflict, `${error.message}: waited ${lockTimeoutMs} ms for a lock another session holds on a table this migration changes (a long or idle-in-transaction session?); the schema is as it was, and the stores try again at their next use`, {
      retriable: true,
      cause: thrown,
      details: error.details,
    });
  }
  if (error.code !== PgErrorCodes.failed || (sqlState !== '42P07' && sqlState !== '42710')) return error;
  return new HeraldError(PgErrors.failed, `${error.message}: schema ${t.schema} holds an object of that name that Herald's migrations did not create; move or drop it, or give Herald a schema of its own (the schema option)`, {
    retriable: false,
    cause: thrown,
    details: error.details,
  });
}

/** The versions applied so far, read without DDL or lock; undefined when there is no migrations table yet. */
export async function appliedVersions(client: PoolClient, t: Tables): Promise<Set<number> | undefined> {
  const { rows } = await client.query<{ present: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS present`, [t.migrations]);
  if (!rows[0]?.present) return undefined;
  const done = await client.query<{ version: number }>(`SELECT version FROM ${t.migrations}`);
  return new Set(done.rows.map((r) => r.version));
}
