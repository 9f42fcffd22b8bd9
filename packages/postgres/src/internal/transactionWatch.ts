import { CoreErrors, HeraldError } from '@herald/core';

/** One watched transaction: `expired` rejects at its deadline; `end()` stops watching it. */
export interface TransactionDeadline {
  readonly expired: Promise<never>;
  end(): void;
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
  /** Watches a transaction from now on. */
  watch(): TransactionDeadline;
}

interface Watched {
  readonly startedAt: number;
  readonly expire: (error: HeraldError) => void;
}

export function createTransactionWatch(timeoutMs: number, now: () => number = Date.now): TransactionWatch {
  const running = new Set<Watched>();
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
    watch() {
      let expire!: (error: HeraldError) => void;
      const expired = new Promise<never>((_, reject) => (expire = reject));
      expired.catch(() => {}); // nobody may be racing it any more when it expires
      const watched: Watched = { startedAt: now(), expire };
      running.add(watched);
      timer ??= setInterval(check, Math.max(1, Math.min(1000, Math.floor(timeoutMs / 4)))).unref();
      return {
        expired,
        end() {
          running.delete(watched);
          disarmWhenIdle();
        },
      };
    },
  };
}
