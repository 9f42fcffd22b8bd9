import { CoreErrors, HeraldError } from '@herald/core';

/** A transaction {@link TransactionWatch} may end: when it began, and how to fail it. */
export interface WatchedTransaction {
  readonly startedAt: number;
  expire(error: HeraldError): void;
}

/**
 * The deadline of every transaction the stores run (`transactionTimeoutMs`): work that never
 * settles (a handler awaiting a call without a deadline, a route's `handle`, a stream's
 * `forEach`) would otherwise keep its connection and its open transaction for good, and an open
 * transaction's id holds back the relay's claims server-wide. One timer for all of them, armed only
 * while some run, checks them a few times per deadline (SQLite's transactions have the same bound).
 */
export interface TransactionWatch {
  readonly timeoutMs: number;
  add(transaction: WatchedTransaction): void;
  delete(transaction: WatchedTransaction): void;
}

export function createTransactionWatch(timeoutMs: number, now: () => number = Date.now): TransactionWatch {
  const running = new Set<WatchedTransaction>();
  let timer: NodeJS.Timeout | undefined;

  function check(): void {
    const at = now();
    for (const transaction of running) {
      if (at - transaction.startedAt < timeoutMs) continue;
      running.delete(transaction);
      transaction.expire(new HeraldError(CoreErrors.timeout, `pgStores: the transaction did not finish within ${timeoutMs} ms (transactionTimeoutMs); rolled back`, { retriable: true }));
    }
    disarmWhenIdle();
  }

  /** No timer while nothing runs (an idle process keeps none). */
  function disarmWhenIdle(): void {
    if (running.size > 0 || !timer) return;
    clearInterval(timer);
    timer = undefined;
  }

  return {
    timeoutMs,
    add(transaction) {
      running.add(transaction);
      timer ??= setInterval(check, Math.max(1, Math.min(1000, Math.floor(timeoutMs / 4)))).unref();
    },
    delete(transaction) {
      running.delete(transaction);
      disarmWhenIdle();
    },
  };
}
