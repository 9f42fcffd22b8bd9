import { mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jsonLogger } from '@herald/core';
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type * as SqliteLogModule from '../src/log/sqliteLog.js';
import type * as SqliteStoresModule from '../src/stores/sqliteStores.js';
import { openSqliteEngine, sqliteEngine } from '../src/index.js';

// The embedded engine opens the log, then the stores. When the stores fail to open, the log opened
// before them is closed again, and closed by the time the caller sees the error: no connection,
// WAL descriptor or checkpoint thread of it is left on the files.

/** The log's close as the tests make it: slower (as a busy disk makes it), or failing after closing. */
const closing = vi.hoisted(() => ({ delayMs: 0, fail: undefined as Error | undefined, done: 0 }));
vi.mock('../src/log/sqliteLog.js', async (importOriginal) => {
  const actual = await importOriginal<typeof SqliteLogModule>();
  return {
    ...actual,
    sqliteLog: (options: Parameters<typeof actual.sqliteLog>[0]) => {
      const log = actual.sqliteLog(options);
      const close = log.close.bind(log);
      return Object.assign(log, {
        async close() {
          await close();
          await new Promise((resolve) => setTimeout(resolve, closing.delayMs));
          closing.done += 1;
          if (closing.fail) throw closing.fail;
        },
      });
    },
  };
});
/** The stores' close as the tests make it: failing after closing. */
const storesClosing = vi.hoisted(() => ({ fail: undefined as Error | undefined }));
vi.mock('../src/stores/sqliteStores.js', async (importOriginal) => {
  const actual = await importOriginal<typeof SqliteStoresModule>();
  return {
    ...actual,
    sqliteStores: (options: Parameters<typeof actual.sqliteStores>[0]) => {
      const stores = actual.sqliteStores(options);
      const close = stores.close.bind(stores);
      return Object.assign(stores, {
        async close() {
          await close();
          if (storesClosing.fail) throw storesClosing.fail;
        },
      });
    },
  };
});
beforeEach(() => {
  Object.assign(closing, { delayMs: 0, fail: undefined, done: 0 });
  storesClosing.fail = undefined;
});

const dir = mkdtempSync(join(tmpdir(), 'herald-engine-open-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The files under `root` this process holds open (Linux: its descriptor table, shared by its threads). */
function heldUnder(root: string): string[] {
  return readdirSync('/proc/self/fd').flatMap((fd) => {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      return target.startsWith(root) ? [target] : [];
    } catch {
      return []; // closed since the listing
    }
  });
}

describe.runIf(process.platform === 'linux')('openSqliteEngine, when the stores fail to open after the log', () => {
  it("throws the stores' error once the log is closed, its files released", async () => {
    const dataDir = join(dir, 'stores-fail');
    // a directory where the stores' file should be: SQLite cannot open it
    mkdirSync(join(dataDir, 'store.db'), { recursive: true });
    closing.delayMs = 200;
    await expect(openSqliteEngine({ dataDir })).rejects.toMatchObject({ code: 'store-unavailable', message: expect.stringContaining('store.db') });
    expect(closing.done, 'the log had closed').toBe(1);
    expect(heldUnder(dataDir)).toEqual([]);
  });

  it("throws the stores' error when closing the log fails too, and logs the close failure", async () => {
    const dataDir = join(dir, 'close-fails');
    mkdirSync(join(dataDir, 'store.db'), { recursive: true });
    closing.fail = new Error('log close failed');
    const lines: Record<string, unknown>[] = [];
    const logger = jsonLogger({ level: 'debug', write: (line) => lines.push(JSON.parse(line) as Record<string, unknown>) });
    await expect(openSqliteEngine({ dataDir, log: { logger } })).rejects.toMatchObject({ code: 'store-unavailable' });
    expect(lines).toContainEqual(
      expect.objectContaining({
        level: 'error',
        msg: 'sqliteEngine: closing the log after the stores failed to open failed too; the opening error is the one thrown',
        error: expect.objectContaining({ message: 'log close failed' }),
        openError: expect.objectContaining({ code: 'store-unavailable' }),
      }),
    );
  });

  it("throws the stores' error after 10 s when closing the log takes longer, saying so on the logger", async () => {
    const dataDir = join(dir, 'close-hangs');
    mkdirSync(join(dataDir, 'store.db'), { recursive: true });
    closing.delayMs = 3_600_000;
    const lines: Record<string, unknown>[] = [];
    const logger = jsonLogger({ level: 'debug', write: (line) => lines.push(JSON.parse(line) as Record<string, unknown>) });
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      let settled: unknown;
      void openSqliteEngine({ dataDir, log: { logger } }).catch((error: unknown) => (settled = error));
      await vi.advanceTimersByTimeAsync(9_999);
      expect(settled, 'still waiting for the close').toBeUndefined();
      await vi.advanceTimersByTimeAsync(1);
      expect(settled).toMatchObject({ code: 'store-unavailable' });
      expect(lines).toContainEqual(expect.objectContaining({ level: 'warn', msg: expect.stringMatching(/^sqliteEngine: the log was still closing 10000 ms after the stores failed to open/) }));
    } finally {
      vi.useRealTimers();
    }
  });

  it('opens a working engine otherwise', async () => {
    const dataDir = join(dir, 'opens');
    const engine = await openSqliteEngine({ dataDir });
    expect(heldUnder(dataDir).some((path) => path.endsWith('log.db'))).toBe(true);
    await engine.stores.transaction((tx) => tx.execute('CREATE TABLE t (id TEXT)'));
    await engine.close();
    expect(heldUnder(dataDir)).toEqual([]);
  });
});

describe('sqliteEngine, synchronous, when the stores fail to open and closing the log fails too', () => {
  it("throws the stores' error and logs the close failure (no unhandled rejection)", async () => {
    const dataDir = join(dir, 'sync-close-fails');
    mkdirSync(join(dataDir, 'store.db'), { recursive: true });
    closing.fail = new Error('log close failed');
    const lines: Record<string, unknown>[] = [];
    const logger = jsonLogger({ level: 'debug', write: (line) => lines.push(JSON.parse(line) as Record<string, unknown>) });
    expect(() => sqliteEngine({ dataDir, log: { logger } })).toThrow(expect.objectContaining({ code: 'store-unavailable' }));
    await vi.waitFor(() => expect(lines).toContainEqual(expect.objectContaining({ level: 'error', error: expect.objectContaining({ message: 'log close failed' }) })));
  });
});

describe('sqliteEngine close', () => {
  it("closes the stores though closing the log failed, then throws the log's error", async () => {
    const dataDir = join(dir, 'close-both');
    const engine = await openSqliteEngine({ dataDir });
    closing.fail = new Error('log close failed');
    await expect(engine.close()).rejects.toThrow('log close failed');
    await expect(engine.stores.transaction(async () => {})).rejects.toMatchObject({ code: 'closed' });
    expect(heldUnder(dataDir)).toEqual([]);
    await expect(engine.close(), 'idempotent: the same outcome').rejects.toThrow('log close failed');
  });
});

describe('a SQLite engine whose log and stores both fail to close', () => {
  it("closes both, throws the log's error and logs the stores' (a second failure was dropped unseen)", async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = jsonLogger({ level: 'debug', write: (line) => lines.push(JSON.parse(line) as Record<string, unknown>) });
    const engine = await openSqliteEngine({ dataDir: join(dir, 'both-fail'), log: { logger } });
    closing.fail = new Error('log close failed');
    storesClosing.fail = new Error('stores close failed');
    await expect(engine.close()).rejects.toBe(closing.fail);
    expect(lines).toContainEqual(
      expect.objectContaining({
        level: 'error',
        msg: "sqliteEngine: closing the stores failed too, after the log's close failed; the log's error is the one thrown",
        error: expect.objectContaining({ message: 'stores close failed' }),
      }),
    );
  });
});
