import { CoreErrors } from '../model/errorCodes.js';
import { HeraldError } from '../model/errors.js';
import type { TransactionRunner } from '../ports/stores/transaction.js';

interface Queued<Tx> {
  readonly work: (tx: Tx) => Promise<unknown>;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

/** How the works of one batch run inside their shared transaction. */
export type BatchMode =
  /** All at once: waits outside the database overlap. For works that touch disjoint rows (handlers of distinct keys). */
  | 'concurrent'
  /** One after another, each seeing the writes of those before it: as if the transactions ran serially. */
  | 'serial';

/**
 * Runs transactions started at the same moment as ONE store transaction: their works run in it
 * (concurrently or one after another, see {@link BatchMode}) and commit together, so an engine pays
 * one BEGIN/COMMIT (and one fsync) for a batch instead of one per work. Per-work atomicity holds:
 * when a work fails, the whole transaction rolls back, the first failing work fails alone, and the
 * others run again in a new transaction (so a work may run more than once, as after a redelivery;
 * only its transactional writes count). Works that arrive while a batch runs form the next batch.
 */
export class TransactionBatcher<Tx> implements TransactionRunner<Tx> {
  private queue: Queued<Tx>[] = [];
  private scheduled = false;

  /** `option` names the setting `maxBatch` came from, for the error when it is not a positive integer. */
  constructor(
    private readonly runner: TransactionRunner<Tx>,
    private readonly maxBatch: number,
    private readonly mode: BatchMode = 'concurrent',
    option = 'transactionBatch',
  ) {
    if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new HeraldError(CoreErrors.invalidOptions, `${option} must be a positive integer, got ${maxBatch}`);
  }

  transaction<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    if (this.maxBatch <= 1) return this.runner.transaction(work);
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ work, resolve: resolve as (value: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      void this.runBatch(batch);
    }
  }

  private async runBatch(batch: readonly Queued<Tx>[]): Promise<void> {
    if (batch.length === 1) {
      const [only] = batch;
      return this.runner.transaction(only!.work).then(only!.resolve, only!.reject);
    }
    let remaining = batch;
    while (remaining.length > 0) {
      const results: unknown[] = new Array(remaining.length);
      let firstFailed = -1;
      let failure: unknown;
      try {
        await this.runner.transaction(async (tx) => {
          const run = (queued: Queued<Tx>, i: number) =>
            queued.work(tx).then(
              (value) => void (results[i] = value),
              (error: unknown) => {
                if (firstFailed < 0) {
                  firstFailed = i;
                  failure = error;
                }
              },
            );
          if (this.mode === 'serial') {
            // one after another; the first failure ends the batch (later works never started)
            for (let i = 0; i < remaining.length && firstFailed < 0; i++) await run(remaining[i]!, i);
          } else {
            // concurrently: their statements interleave in the one transaction
            await Promise.all(remaining.map(run));
          }
          if (firstFailed >= 0) throw failure; // roll the whole transaction back
        });
      } catch (error) {
        if (firstFailed < 0) {
          // the commit itself failed: nothing was applied, every work fails with it
          remaining.forEach((q) => q.reject(error));
          return;
        }
        // only the first failure is surely its own (later ones may be collateral, e.g. a
        // PostgreSQL transaction aborted by the first error): it fails, the others run again
        remaining[firstFailed]!.reject(failure);
        remaining = remaining.filter((_, i) => i !== firstFailed);
        continue;
      }
      remaining.forEach((q, i) => q.resolve(results[i]));
      return;
    }
  }
}
