import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { openDatabase } from '../src/internal/database.js';
import { readDurability } from '../src/internal/readDurability.js';
import type { WalSync } from '../src/internal/walSync.js';
import { tempDir } from './helpers.js';

const tmp = tempDir('herald-read-durability-');
afterAll(() => tmp.remove());

/** A WalSync that records which wait each read asked for. */
function recordingWal(): WalSync & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    sync: async () => void calls.push('sync'),
    flushed: async () => void calls.push('flushed'),
    close: async () => {},
  };
}

it('syncs the WAL itself only when another connection committed since it last looked', async () => {
  const path = join(tmp.dir, 'store.db');
  const mine = openDatabase({ path, busyTimeoutMs: 1000 });
  const theirs = openDatabase({ path, busyTimeoutMs: 1000 });
  mine.exec('CREATE TABLE t (n INTEGER)');
  const wal = recordingWal();
  const onDisk = readDurability(mine, wal);

  await onDisk(); // nothing committed by anyone else
  mine.prepare('INSERT INTO t VALUES (1)').run();
  await onDisk(); // its own commit: its own fsync covers it
  theirs.prepare('INSERT INTO t VALUES (2)').run();
  await onDisk(); // another connection's commit, maybe not synced yet
  await onDisk(); // already synced by the previous call
  expect(wal.calls).toEqual(['flushed', 'flushed', 'sync', 'flushed']);
  mine.close();
  theirs.close();
});

it('syncs again next time when the sync failed', async () => {
  const path = join(tmp.dir, 'failing.db');
  const mine = openDatabase({ path, busyTimeoutMs: 1000 });
  const theirs = openDatabase({ path, busyTimeoutMs: 1000 });
  mine.exec('CREATE TABLE t (n INTEGER)');
  let fail = true;
  const calls: string[] = [];
  const wal: WalSync = {
    sync: async () => {
      calls.push('sync');
      if (fail) throw new Error('EIO');
    },
    flushed: async () => void calls.push('flushed'),
    close: async () => {},
  };
  const onDisk = readDurability(mine, wal);
  theirs.prepare('INSERT INTO t VALUES (1)').run();
  await expect(onDisk()).rejects.toThrow('EIO');
  fail = false;
  await onDisk();
  expect(calls).toEqual(['sync', 'sync']);
  mine.close();
  theirs.close();
});
