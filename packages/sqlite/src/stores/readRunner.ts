import { CoreErrors, HeraldError, type SqlTx } from '@herald/core';
import { openReadConnection, type ReadConnection, type ReadConnectionOptions } from './readTx.js';

/** What {@link createReadRunner} needs. */
export interface ReadRunnerDeps extends ReadConnectionOptions {
  /** Most read connections open at once; more reads wait for one. */
  readonly maxConnections: number;
  /** A read still running after this long fails with a retriable `timeout` (its transaction ends). */
  readonly transactionTimeoutMs: number;
  /** Resolves once what the stores' connections read is on disk (see `readDurability`). */
  readonly flushed: () => Promise<void>;
}

export interface ReadRunner {
  /** Runs `work` in a read-only transaction on a read connection (see `ReadTransactions.read`). */
  run<T>(work: (tx: SqlTx) => Promise<T>): Promise<T>;
  /** Refuses new reads, waits for those running, then closes the connections. Idempotent. */
  close(): Promise<void>;
}

/**
 * Read-only transactions on their own connections, never the writer's: the writer's transaction
 * holds other logical transactions' writes as they happen (group commit), and the stores' `reader`
 * runs their internal reads synchronously, while a user's read holds its transaction open across
 * awaits. Connections are opened lazily, up to `maxConnections`, and reused; each read runs
 * `BEGIN`, takes its WAL snapshot at once and ends with `COMMIT` (`ROLLBACK` when the work fails),
 * so it sees one committed state and never waits for the write lock. Its result is returned once
 * what it read is on disk (`flushed`).
 */
export function createReadRunner(deps: ReadRunnerDeps): ReadRunner {
  const idle: ReadConnection[] = [];
  const waiting: ((connection: ReadConnection) => void)[] = [];
  let opened = 0;
  let running = 0;
  let closing: Promise<void> | undefined;
  let drained: (() => void) | undefined;

  async function acquire(): Promise<ReadConnection> {
    const free = idle.pop();
    if (free) return free;
    if (opened < deps.maxConnections) {
      const connection = openReadConnection(deps);
      opened++;
      return connection;
    }
    return new Promise((resolve) => waiting.push(resolve));
  }

  function release(connection: ReadConnection): void {
    const next = waiting.shift();
    if (next) next(connection);
    else idle.push(connection);
  }

  async function runOn<T>(connection: ReadConnection, work: (tx: SqlTx) => Promise<T>): Promise<T> {
    const tx = connection.begin();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new HeraldError(CoreErrors.timeout, `stores: read did not finish within ${deps.transactionTimeoutMs} ms (transactionTimeoutMs); ended`, { retriable: true })),
        deps.transactionTimeoutMs,
      );
    });
    let result: T;
    try {
      // at the deadline the work is left running: its tx refuses further statements
      result = await Promise.race([work(tx), deadline]);
    } catch (error) {
      connection.end(tx, false);
      throw error;
    } finally {
      clearTimeout(timer);
    }
    connection.end(tx, true);
    await deps.flushed();
    return result;
  }

  return {
    async run<T>(work: (tx: SqlTx) => Promise<T>): Promise<T> {
      if (closing) throw new HeraldError(CoreErrors.closed, 'stores: closed');
      running++;
      try {
        const connection = await acquire();
        try {
          return await runOn(connection, work);
        } finally {
          release(connection);
        }
      } finally {
        running--;
        if (running === 0) drained?.();
      }
    },
    close() {
      closing ??= (async () => {
        if (running > 0) await new Promise<void>((resolve) => (drained = resolve));
        for (const connection of idle.splice(0)) connection.close();
      })();
      return closing;
    },
  };
}
