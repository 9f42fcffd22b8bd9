import type Database from 'better-sqlite3';
import { HeraldError } from '@herald/core';
import { SqliteErrors } from '../errors.js';
import { openDatabase, type OpenOptions } from './database.js';
import { toStoreError } from './storeErrors.js';

/** One schema step: statements run once, in a transaction, when the file is below `version`. */
export interface Migration {
  readonly version: number;
  readonly statements: readonly string[];
  /** Work SQL alone cannot do (it needs JavaScript, e.g. Kafka's hash of a key), run after the statements. */
  readonly run?: (db: Database.Database) => void;
}

/**
 * Brings `component`'s tables up to the latest migration. Versions are kept per component in
 * `herald_schema_version` (not `PRAGMA user_version`) so the log and the stores may share one file.
 * The check and the steps run under one write lock, so processes opening the file together migrate
 * it once. A file whose version is above the newest migration (a newer Herald wrote it) is refused
 * with `store-newer-version`: its tables may mean what this version does not know. SQLite's failures
 * are mapped (see `toStoreError`): a damaged file is `store-corrupt`.
 */
export function migrate(db: Database.Database, component: string, migrations: readonly Migration[]): void {
  try {
    runMigrations(db, component, migrations);
  } catch (error) {
    throw toStoreError(error, { path: db.name, context: `migrating the ${component} tables` });
  }
}

/**
 * Opens an engine file for writing with `component`'s tables at the newest migration. With
 * `apply` (the components' `migrate` option) it migrates them; without, it first reads the schema
 * through a read-only handle and refuses, before anything is written (not even the switch to WAL,
 * nor a new file), a file whose tables are missing or older: `store-not-migrated`.
 */
export function openAtSchema(open: OpenOptions, component: string, migrations: readonly Migration[], apply: boolean): Database.Database {
  if (!apply) {
    const probe = openDatabase({ ...open, readonly: true });
    try {
      requireMigrated(probe, component, migrations);
    } catch (error) {
      throw toStoreError(error, { path: open.path, context: `checking the ${component} tables` });
    } finally {
      probe.close();
    }
  }
  const db = openDatabase(open);
  if (!apply) return db;
  try {
    migrate(db, component, migrations);
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}

/** Whether `component`'s tables are at the newest migration: none (details.version 0) or older ones are `store-not-migrated`. */
function requireMigrated(db: Database.Database, component: string, migrations: readonly Migration[]): void {
  const newest = Math.max(0, ...migrations.map((step) => step.version));
  const versioned = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'herald_schema_version'").get() !== undefined;
  const row = versioned ? db.prepare<[string], { version: number }>('SELECT version FROM herald_schema_version WHERE component = ?').get(component) : undefined;
  const current = row?.version ?? 0;
  if (current > newest) throw newerVersion(db, component, current, newest);
  if (current === newest) return;
  const found = current === 0 ? `has no Herald ${component} tables` : `has its ${component} tables at schema version ${current}, older than ${newest}`;
  throw new HeraldError(SqliteErrors.storeNotMigrated, `${db.name}: ${found}, and this handle was opened not to migrate (migrate: false)`, {
    details: { path: db.name, component, version: current, known: newest },
  });
}

function newerVersion(db: Database.Database, component: string, version: number, newest: number): HeraldError {
  return new HeraldError(
    SqliteErrors.storeNewerVersion,
    `${db.name}: its ${component} tables are at schema version ${version}, newer than ${newest}, the newest this version of Herald knows: a newer version wrote it. Run that version (or a later one) on it`,
    { details: { path: db.name, component, version, known: newest } },
  );
}

function runMigrations(db: Database.Database, component: string, migrations: readonly Migration[]): void {
  db.exec('CREATE TABLE IF NOT EXISTS herald_schema_version (component TEXT PRIMARY KEY, version INTEGER NOT NULL)');
  const read = db.prepare<[string], { version: number }>('SELECT version FROM herald_schema_version WHERE component = ?');
  const write = db.prepare('INSERT INTO herald_schema_version (component, version) VALUES (?, ?) ON CONFLICT (component) DO UPDATE SET version = excluded.version');
  const newest = Math.max(0, ...migrations.map((step) => step.version));
  const run = db.transaction(() => {
    const current = read.get(component)?.version ?? 0;
    if (current > newest) throw newerVersion(db, component, current, newest);
    for (const step of migrations) {
      if (step.version <= current) continue;
      for (const statement of step.statements) db.exec(statement);
      step.run?.(db);
      write.run(component, step.version);
    }
  });
  run.immediate();
}
