import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { CoreErrors, HeraldError } from '@herald/core';
import { FALLBACK_AUTOCHECKPOINT_PAGES } from './checkpointer.js';
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
 * keys on.
 */
export function openDatabase(options: OpenOptions): Database.Database {
  if (options.path !== ':memory:' && !options.readonly) mkdirSync(dirname(options.path), { recursive: true });
  let db: Database.Database;
  try {
    db = new Database(options.path, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false });
  } catch (cause) {
    throw new HeraldError(CoreErrors.invalidOptions, `cannot open SQLite file ${options.path}`, { cause });
  }
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
}

/** Whether an error is SQLite reporting lock contention that outlived the busy timeout. */
export function isBusyError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'));
}

/** The WAL syncer for a durability mode: `full` syncs before acknowledging, `normal` does not. */
export function walSyncFor(path: string, durability: Durability): WalSync {
  if (durability === 'full' && path !== ':memory:') return createWalSync(path);
  return { sync: () => Promise.resolve(), flushed: () => Promise.resolve(), close: () => Promise.resolve() };
}
