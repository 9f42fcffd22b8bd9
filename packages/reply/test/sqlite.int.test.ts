import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp, silentLogger } from '@herald/core';
import { sqliteEngine } from '@herald/sqlite';
import { describeRequestReply } from './scenario.js';

// Every instance is an app of its own on one data directory (as separate processes of one
// embedded system would be): they share the log, so their groups and reply groups coordinate there.
describeRequestReply('the embedded engine (SQLite log and stores)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'herald-reply-'));
  return {
    waitMs: 15_000,
    open: async (service) =>
      createApp({
        ...sqliteEngine({ dataDir: dir, log: { heartbeatMs: 100, sessionTimeoutMs: 1_000 } }),
        name: service,
        logger: silentLogger,
        relay: { idleMs: 5 },
        groups: { notifier: { commitIntervalMs: 20 }, users: { commitIntervalMs: 20 } },
      }),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});
