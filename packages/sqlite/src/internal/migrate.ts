import type Database from 'better-sqlite3';

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
 * it once.
 */
export function migrate(db: Database.Database, component: string, migrations: readonly Migration[]): void {
  db.exec('CREATE TABLE IF NOT EXISTS herald_schema_version (component TEXT PRIMARY KEY, version INTEGER NOT NULL)');
  const read = db.prepare<[string], { version: number }>('SELECT version FROM herald_schema_version WHERE component = ?');
  const write = db.prepare('INSERT INTO herald_schema_version (component, version) VALUES (?, ?) ON CONFLICT (component) DO UPDATE SET version = excluded.version');
  const run = db.transaction(() => {
    const current = read.get(component)?.version ?? 0;
    for (const step of migrations) {
      if (step.version <= current) continue;
      for (const statement of step.statements) db.exec(statement);
      step.run?.(db);
      write.run(component, step.version);
    }
  });
  run.immediate();
}
