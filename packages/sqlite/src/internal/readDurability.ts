import type Database from 'better-sqlite3';
import type { WalSync } from './walSync.js';

/**
 * What a transaction or a claim read is on disk once this resolves. This process's own commits are
 * synced before they are acknowledged, so waiting for the syncs under way is enough — unless
 * another connection committed meanwhile (the relay thread's, another process's): its fsync may
 * still be pending, so the WAL is synced here. SQLite's `data_version` tells the two apart: it
 * changes on the writer connection only when someone else commits.
 */
export function readDurability(writer: Database.Database, wal: WalSync): () => Promise<void> {
  const version = writer.prepare('PRAGMA data_version').pluck();
  let seen = version.get();
  return () => {
    const now = version.get();
    if (now === seen) return wal.flushed();
    return wal.sync().then(() => void (seen = now));
  };
}
