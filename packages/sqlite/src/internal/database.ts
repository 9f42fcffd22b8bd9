import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { CoreErrors, HeraldError } from '@herald/core';
import { SqliteErrors } from '../errors.js';
import { FALLBACK_AUTOCHECKPOINT_PAGES } from './checkpointer.js';
import { toStoreError } from './storeErrors.js';
import { createWalSync, type WalSync } from './walSync.js';

/** How hard SQLite waits for the disk at commit. */
export type Durability = 'full' | 'normal';

export interface OpenOptions {
  readonly path: string;
  readonly busyTimeoutMs: number;
  readonly readonly?: boolean;
}

/**
 * Opens a SQLite file the way every Herald component wants it: WAL (readers never block the
 * writer), `synchronous=NORMAL` (COMMIT does not fsync; with durability `full` the caller makes
 * commits durable with {@link createWalSync} before acknowledging them, off the event loop), a
 * busy timeout so processes sharing the file wait for each other instead of failing, and foreign
 * keys on. Failures are HeraldErrors naming the file (see `toStoreError`): a damaged file or one
 * that is no database is `store-corrupt`, one that cannot be opened `store-unavailable`, a data
 * directory that is a file `invalid-options`.
 */
export function openDatabase(options: OpenOptions): Database.Database {
  const { path } = options;
  if (path !== ':memory:' && !options.readonly) makeDirectory(dirname(path));
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false });
    db.pragma(`busy_timeout = ${Math.round(options.busyTimeoutMs)}`);
    if (!options.readonly) {
      db.pragma('journal_mode = WAL');
      // keep the WAL file from growing without bound after a burst
      db.pragma('journal_size_limit = 67108864');
      // checkpoints run in a background thread (see startCheckpointer); this is the safety net
      db.pragma(`wal_autocheckpoint = ${FALLBACK_AUTOCHECKPOINT_PAGES}`);
    }
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    return db;
  } catch (cause) {
    db?.close();
    // a garbage file opens; its first read (the pragmas) finds it is no database
    const mapped = toStoreError(cause, { path, context: 'cannot open SQLite file' });
    if (mapped instanceof HeraldError) throw mapped;
    // better-sqlite3's own refusals (a missing directory) are no SQLite errors
    throw new HeraldError(SqliteErrors.storeUnavailable, `cannot open SQLite file ${path}: ${(cause as Error).message}`, { cause, details: { path } });
  }
}

function makeDirectory(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOTDIR') {
      throw new HeraldError(CoreErrors.invalidOptions, `cannot create the directory ${dir} for a SQLite file: it, or a directory above it, is a file`, { cause });
    }
    throw new HeraldError(SqliteErrors.storeUnavailable, `cannot create the directory ${dir} for a SQLite file: ${(cause as Error).message}`, { cause, details: { path: dir } });
  }
}

/** The WAL syncer for a durability mode: `full` syncs before acknowledging, `normal` does not. */
export function walSyncFor(path: string, durability: Durability): WalSync {
  if (durability === 'full' && path !== ':memory:') return createWalSync(path);
  return { sync: () => Promise.resolve(), flushed: () => Promise.resolve(), close: () => Promise.resolve() };
}
