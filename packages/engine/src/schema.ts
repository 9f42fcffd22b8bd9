import { isRetriable } from '@herald/core';
import type { SqlTx, TransactionRunner } from '@herald/core';
import type { EngineKind } from './config.js';

/** Options of {@link applySchema}. */
export interface ApplySchemaOptions {
  /** The engine's kind: on PostgreSQL the statements run under an advisory lock. */
  readonly engine: EngineKind;
  /** Names the advisory lock (one per application, e.g. `my-app:schema`). */
  readonly lockName: string;
  /** Runs of the whole schema before a retriable failure is given up. Default 10. */
  readonly attempts?: number;
  /** First pause between runs, doubling up to 2 s. Default 50. */
  readonly retryDelayMs?: number;
}

/**
 * Runs an application's own schema statements (`CREATE TABLE IF NOT EXISTS ...`, in the SQL common
 * to SQLite and PostgreSQL) in one transaction; safe to call from every process at start.
 *
 * Processes starting together on PostgreSQL would race: concurrent `CREATE TABLE IF NOT EXISTS`
 * of one table collide on a catalog index and the loser fails. So on PostgreSQL the statements
 * first take a transaction-scoped advisory lock named by `lockName`: one process creates, the
 * others wait and then find everything there. SQLite serialises writers itself. A retriable
 * failure (a busy database, a connection lost at start) reruns the whole schema with backoff.
 */
export async function applySchema(stores: TransactionRunner<SqlTx>, statements: readonly string[], options: ApplySchemaOptions): Promise<void> {
  const attempts = options.attempts ?? 10;
  let delayMs = options.retryDelayMs ?? 50;
  for (let attempt = 1; ; attempt++) {
    try {
      await stores.transaction(async (tx) => {
        if (options.engine === 'kafka-postgres') await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [options.lockName]);
        for (const statement of statements) await tx.execute(statement);
      });
      return;
    } catch (error) {
      if (attempt >= attempts || !isRetriable(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      delayMs = Math.min(delayMs * 2, 2_000);
    }
  }
}
