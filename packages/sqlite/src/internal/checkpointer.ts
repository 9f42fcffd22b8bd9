import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** A background thread that checkpoints one SQLite file's WAL. */
export interface Checkpointer {
  close(): Promise<void>;
}

/** Pages in the WAL after which a connection checkpoints by itself (only if the thread falls behind). */
export const FALLBACK_AUTOCHECKPOINT_PAGES = 16_384;

// Plain JavaScript, run with `eval`: the worker must load without the TypeScript loader.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path);
db.pragma('busy_timeout = 1000');
db.pragma('wal_autocheckpoint = 0');
const timer = setInterval(() => {
  try { db.pragma('wal_checkpoint(PASSIVE)'); } catch { /* another checkpoint is running: next time */ }
}, workerData.intervalMs);
parentPort.on('message', () => {
  clearInterval(timer);
  try { db.close(); } catch {}
  parentPort.postMessage('closed');
  parentPort.close();
});
`;

/**
 * Moves WAL checkpoints off the event loop. SQLite checkpoints inside the COMMIT that crosses
 * `wal_autocheckpoint`: it copies the WAL into the database and fsyncs both, which can stall the
 * event loop for tens of milliseconds. Here a worker thread with its own connection runs a PASSIVE
 * checkpoint every `intervalMs` (it never blocks writers); the application's connections keep a
 * high automatic threshold ({@link FALLBACK_AUTOCHECKPOINT_PAGES}) only as a safety net.
 */
export function startCheckpointer(path: string, intervalMs: number): Checkpointer {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { path, driver, intervalMs } });
  worker.unref();
  // a failing checkpointer only means checkpoints fall back to the connections themselves
  worker.on('error', () => {});
  let closing: Promise<void> | undefined;
  return {
    close() {
      closing ??= new Promise<void>((resolve) => {
        worker.once('exit', () => resolve());
        worker.once('message', () => void worker.terminate());
        worker.postMessage('close');
      });
      return closing;
    },
  };
}
