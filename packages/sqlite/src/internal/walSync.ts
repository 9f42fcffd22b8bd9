import { close, fdatasync, open } from 'node:fs';

/** Makes committed WAL frames durable without blocking the event loop. */
export interface WalSync {
  /** Resolves once everything committed before the call is on disk. */
  sync(): Promise<void>;
  /** Resolves once the syncs already requested are done (starts none); never rejects. */
  flushed(): Promise<void>;
  /** Waits for syncs in flight, then releases the descriptor. */
  close(): Promise<void>;
}

/**
 * Durable commits without blocking the event loop on fsync. The connection runs with
 * `synchronous=NORMAL`, so COMMIT writes its WAL frames to the OS and returns; before anyone is
 * told the commit happened, `sync()` runs `fdatasync` on the WAL file in libuv's thread pool. That
 * is what `synchronous=FULL` would have done inside COMMIT (on the main thread), so a resolved
 * commit survives power loss just the same; meanwhile the event loop keeps running and the next
 * batch can already be committing. Syncs are coalesced: callers arriving while one is in flight
 * share the next one (their frames may postdate the one in flight).
 *
 * SQLite never deletes the WAL while a connection is open (this process keeps one), and
 * checkpoints keep the same file (they only truncate it), so one descriptor stays valid.
 */
export function createWalSync(databasePath: string): WalSync {
  const walPath = `${databasePath}-wal`;
  let fd: number | undefined;
  let running: Promise<void> | undefined;
  let queued: Promise<void> | undefined;
  let closed = false;

  function descriptor(): Promise<number> {
    if (fd !== undefined) return Promise.resolve(fd);
    return new Promise((resolve, reject) =>
      open(walPath, 'r', (error, opened) => {
        if (error) return reject(error);
        if (closed) {
          close(opened, () => {});
          return reject(new Error('closed'));
        }
        fd = opened;
        resolve(opened);
      }),
    );
  }

  async function syncNow(): Promise<void> {
    const handle = await descriptor();
    await new Promise<void>((resolve, reject) => fdatasync(handle, (error) => (error ? reject(error) : resolve())));
  }

  function sync(): Promise<void> {
    if (!running) {
      running = syncNow().finally(() => (running = undefined));
      return running;
    }
    queued ??= running.then(
      () => ((queued = undefined), sync()),
      () => ((queued = undefined), sync()),
    );
    return queued;
  }

  return {
    sync,
    flushed: () => (queued ?? running ?? Promise.resolve()).catch(() => undefined),
    async close() {
      await Promise.allSettled([running, queued]);
      closed = true;
      if (fd !== undefined) close(fd, () => {});
      fd = undefined;
    },
  };
}
