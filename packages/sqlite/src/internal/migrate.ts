import type Database from 'better-sqlite3';
import { HeraldError } from '@herald/core';
import { SqliteErrors } from '../errors.js';
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

function runMigrations(db: Database.Database, component: string, migrations: readonly Migration[]): void {
  db.exec('CREATE TABLE IF NOT EXISTS herald_schema_version (component TEXT PRIMARY KEY, version INTEGER NOT NULL)');
  const read = db.prepare<[string], { version: number }>('SELECT version FROM herald_schema_version WHERE component = ?');
  const write = db.prepare('INSERT INTO herald_schema_version (component, version) VALUES (?, ?) ON CONFLICT (component) DO UPDATE SET version = excluded.version');
  const newest = Math.max(0, ...migrations.map((step) => step.version));
  const run = db.transaction(() => {
    const current = read.get(component)?.version ?? 0;
    if (current > newest) {
      throw new HeraldError(
        SqliteErrors.storeNewerVersion,
        `${db.name}: its ${component} tables are at schema version ${current}, newer than ${newest}, the newest this version of Herald knows: a newer version wrote it. Run that version (or a later one) on it`,
        { details: { path: db.name, component, version: current, known: newest } },
      );
    }
    for (const step of migrations) {
      if (step.version <= current) continue;
      for (const statement of step.statements) db.exec(statement);
      step.run?.(db);
      write.run(component, step.version);
    }
  });
  run.immediate();
}
