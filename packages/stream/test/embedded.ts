import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { App, SqlTx } from '@herald/core';
import { sqliteEngine, type SqliteEngine } from '@herald/sqlite';
import { afterEach } from 'vitest';

/** What {@link embeddedEngines} gives a test file. */
export interface EmbeddedEngines {
  /** Opens the embedded engine on a new SQLite directory, or on `dir` to start again on one closed by {@link stop}. */
  open(dir?: string): SqliteEngine;
  /** Records the app running on the engine just opened: closed, before the engine, after the test. */
  track(app: App<SqlTx>): void;
  /** The engine opened last. */
  readonly engine: SqliteEngine;
  /** The directory of the engine opened last. */
  readonly dataDir: string;
  /** Closes the app and the engine now, keeping the directory (to open it again). */
  stop(): Promise<void>;
}

/**
 * The embedded engines of a test file's tests, each on a real SQLite directory named `prefix…`:
 * after each test the app (if tracked) and the engine are closed and the directory removed.
 */
export function embeddedEngines(prefix: string): EmbeddedEngines {
  let dataDir: string | undefined;
  let running: { engine: SqliteEngine; app?: App<SqlTx> } | undefined;
  let last: SqliteEngine | undefined;
  const stop = async () => {
    const run = running;
    running = undefined;
    await run?.app?.close();
    await run?.engine.close();
  };
  afterEach(async () => {
    await stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    dataDir = undefined;
  });
  return {
    open(dir) {
      dataDir = dir ?? mkdtempSync(join(tmpdir(), prefix));
      const engine = sqliteEngine({ dataDir, log: { heartbeatMs: 100, sessionTimeoutMs: 1_000 } });
      running = { engine };
      last = engine;
      return engine;
    },
    track(app) {
      if (running) running.app = app;
    },
    get engine() {
      if (last === undefined) throw new Error('no engine opened yet');
      return last;
    },
    get dataDir() {
      if (dataDir === undefined) throw new Error('no engine opened yet');
      return dataDir;
    },
    stop,
  };
}
