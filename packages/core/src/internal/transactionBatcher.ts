import type { TransactionRunner } from '../store.js';

interface Queued<Tx> {
  readonly work: (tx: Tx) => Promise<unknown>;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Runs the transactions that a consumer group's handlers start at the same moment as ONE store
 * transaction: their works run concurrently in it and commit together, so an engine pays one
 * BEGIN/COMMIT (and one fsync) for a batch instead of one per event. Per-event atomicity holds:
 * when a work fails, the whole transaction rolls back, the first failing work fails alone, and the
 * others run again in a new transaction (so a work may run more than once, as after a redelivery;
 * only its transactional writes count). Works that arrive while a batch runs form the next batch.
 */
export class TransactionBatcher<Tx> implements TransactionRunner<Tx> {
  private queue: Queued<Tx>[] = [];
  private scheduled = false;

  constructor(
    private readonly runner: TransactionRunner<Tx>,
    private readonly maxBatch: number,
  ) {}

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
          // the works run concurrently (keys are distinct, and waits outside the database overlap);
          // their statements interleave in the one transaction
          await Promise.all(
            remaining.map((queued, i) =>
              queued.work(tx).then(
                (value) => void (results[i] = value),
                (error: unknown) => {
                  if (firstFailed < 0) {
                    firstFailed = i;
                    failure = error;
                  }
                },
              ),
            ),
          );
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
