import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { sqliteLog, sqliteStores } from '@herald/sqlite';
import { migrate } from '../src/internal/migrate.js';
import { STORE_MIGRATIONS } from '../src/stores/schema.js';
import { tempDir } from './helpers.js';

// `migrate: false` (how a tool such as the herald CLI opens an app's files): a file at this
// version's schema opens, anything else is refused and left exactly as it was.

const tmp = tempDir('herald-migrate-false-');
afterAll(() => tmp.remove());

const notMigrated = (version: number) => expect.objectContaining({ code: 'store-not-migrated', details: expect.objectContaining({ version }) });

describe('migrate: false', () => {
  it('refuses a SQLite file without Herald tables, writing none', () => {
    for (const [name, open] of [
      ['log.db', (path: string) => sqliteLog({ path, migrate: false })],
      ['store.db', (path: string) => sqliteStores({ path, migrate: false })],
    ] as const) {
      const path = join(tmp.dir, `foreign-${name}`);
      const db = new Database(path);
      db.exec('CREATE TABLE notes (body TEXT)');
      db.close();
      const before = readFileSync(path);
      expect(() => open(path), name).toThrowError(notMigrated(0));
      expect(readFileSync(path).equals(before), `${name} unchanged`).toBe(true);
      const tables = new Database(path, { readonly: true }).prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all();
      expect(tables).toEqual(['notes']);
    }
  });

  it('creates no file and no directory where there is none', () => {
    const dir = join(tmp.dir, 'nowhere');
    expect(() => sqliteLog({ path: join(dir, 'log.db'), migrate: false })).toThrowError(expect.objectContaining({ code: 'store-unavailable' }));
    expect(() => sqliteStores({ path: join(tmp.dir, 'store-missing.db'), migrate: false })).toThrowError(expect.objectContaining({ code: 'store-unavailable' }));
    expect([existsSync(dir), existsSync(join(tmp.dir, 'store-missing.db'))]).toEqual([false, false]);
  });

  it('refuses a store file at an older schema version without migrating it', () => {
    const path = join(tmp.dir, 'v1-store.db');
    const v1 = new Database(path);
    migrate(v1, 'stores', STORE_MIGRATIONS.filter((m) => m.version === 1));
    v1.close();
    const size = statSync(path).size;
    expect(() => sqliteStores({ path, migrate: false })).toThrowError(notMigrated(1));
    const version = new Database(path, { readonly: true }).prepare("SELECT version FROM herald_schema_version WHERE component = 'stores'").pluck().get();
    expect([version, statSync(path).size]).toEqual([1, size]);
  });

  it('opens files the app migrated', async () => {
    const log = join(tmp.dir, 'app-log.db');
    const store = join(tmp.dir, 'app-store.db');
    await sqliteLog({ path: log }).close();
    await sqliteStores({ path: store }).close();
    await sqliteLog({ path: log, migrate: false }).close();
    await sqliteStores({ path: store, migrate: false }).close();
  });
});
