import pg from 'pg';
import type { Pool, PoolClient } from 'pg';
import { toStoreError } from './errors.js';
import { MIGRATIONS } from './internal/migrations.js';
import { tablesFor, type Tables } from './internal/tables.js';

export interface MigrateOptions {
  /** Where to connect (ignored when `pool` is given). */
  readonly connectionString?: string;
  /** An existing pool to borrow one connection from; it is left open. */
  readonly pool?: Pool;
  /** Schema holding Herald's tables. Default `herald`. */
  readonly schema?: string;
}

export interface MigrateResult {
  /** Versions applied by this call, ascending (empty when the schema was already current). */
  readonly applied: readonly number[];
  /** The schema's version afterwards. */
  readonly version: number;
}

/**
 * Brings Herald's schema up to date. Each versioned migration runs once: applied versions are kept
 * in `<schema>.schema_migrations`, and the whole run holds a transaction-scoped advisory lock, so
 * any number of processes may call this at once (the first applies, the others wait and find
 * nothing to do). All pending migrations apply in one transaction: a failure leaves the schema as
 * it was. On a current schema it only reads the applied versions (no DDL, no lock), so a role with
 * USAGE on the schema and DML on its tables may call it (and run `pgStores`) once the schema was
 * migrated by a role that may create it. `pgStores` calls it before first use unless told not to.
 *
 * @example
 * await migrate({ connectionString: process.env.DATABASE_URL });
 */
export async function migrate(options: MigrateOptions): Promise<MigrateResult> {
  const tables = tablesFor(options.schema ?? 'herald');
  if (options.pool) return runMigrations(options.pool, tables);
  if (!options.connectionString) throw new RangeError('migrate: give connectionString or pool');
  const pool = new pg.Pool({ connectionString: options.connectionString, max: 1 });
  try {
    return await runMigrations(pool, tables);
  } finally {
    await pool.end();
  }
}

/** Applies pending migrations over one pooled connection (see {@link migrate}). */
export async function runMigrations(pool: Pool, t: Tables): Promise<MigrateResult> {
  let client;
  try {
    client = await pool.connect();
  } catch (error) {
    throw toStoreError(error, 'migrate: connect');
  }
  let failed: unknown;
  const onClientError = (error: Error) => (failed ??= error);
  client.on('error', onClientError);
  try {
    const current = await appliedVersions(client, t);
    if (current && MIGRATIONS.every((m) => current.has(m.version))) {
      return { applied: [], version: Math.max(0, ...current) };
    }
    await client.query('BEGIN');
    await client.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, [`herald:migrate:${t.schema}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${t.schema}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${t.migrations} (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const done = await client.query<{ version: number }>(`SELECT version FROM ${t.migrations}`);
    const have = new Set(done.rows.map((r) => r.version));
    const applied: number[] = [];
    for (const migration of MIGRATIONS) {
      if (have.has(migration.version)) continue;
      await client.query(migration.sql(t));
      await client.query(`INSERT INTO ${t.migrations} (version, name) VALUES ($1, $2)`, [migration.version, migration.name]);
      applied.push(migration.version);
    }
    await client.query('COMMIT');
    return { applied, version: Math.max(0, ...have, ...applied) };
  } catch (error) {
    failed = error;
    await client.query('ROLLBACK').catch(() => {});
    // the migrations' DDL runs under the lock, and the schema's own creates only what is missing: an
    // object named as existing was created by a concurrent session (e.g. a user's), a race
    throw toStoreError(error, 'migrate', { idempotentDdl: true });
  } finally {
    // after a failure the connection's state is unknown: discard it rather than return it to the pool
    client.removeListener('error', onClientError);
    client.release(failed !== undefined);
  }
}

/** The versions applied so far, read without DDL or lock; undefined when there is no migrations table yet. */
async function appliedVersions(client: PoolClient, t: Tables): Promise<Set<number> | undefined> {
  const { rows } = await client.query<{ present: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS present`, [t.migrations]);
  if (!rows[0]?.present) return undefined;
  const done = await client.query<{ version: number }>(`SELECT version FROM ${t.migrations}`);
  return new Set(done.rows.map((r) => r.version));
}
