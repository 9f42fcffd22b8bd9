import { describe, expect, it } from 'vitest';
import { memoryStores, type MemoryTx } from '@herald/testing';
import { TransactionBatcher } from '../src/internal/transactionBatcher.js';
import type { TransactionRunner } from '@herald/core';

/** Counts the store transactions the batcher opens. */
function counted(stores: TransactionRunner<MemoryTx>) {
  const runner = {
    transactions: 0,
    transaction<T>(work: (tx: MemoryTx) => Promise<T>) {
      runner.transactions++;
      return stores.transaction(work);
    },
  };
  return runner;
}

describe('TransactionBatcher', () => {
  it('commits works started together in one store transaction, running them concurrently', async () => {
    const stores = memoryStores();
    const runner = counted(stores);
    const batcher = new TransactionBatcher(runner, 32);
    let running = 0;
    let maxRunning = 0;
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        batcher.transaction(async (tx) => {
          maxRunning = Math.max(maxRunning, ++running);
          await new Promise((r) => setTimeout(r, 5));
          tx.set(`effect/${i}`, i);
          running--;
          return i * 2;
        }),
      ),
    );
    expect(results).toEqual([0, 2, 4, 6, 8, 10, 12, 14, 16, 18]);
    expect(runner.transactions).toBe(1);
    expect(maxRunning).toBe(10);
    expect(await stores.transaction(async (tx) => tx.keys('effect/'))).toHaveLength(10);
  });

  it('fails only the failing work; the others run again and commit, and nothing of the failed one remains', async () => {
    const stores = memoryStores();
    const runner = counted(stores);
    const batcher = new TransactionBatcher(runner, 32);
    const runs = new Map<number, number>();
    const outcomes = await Promise.allSettled(
      Array.from({ length: 5 }, (_, i) =>
        batcher.transaction(async (tx) => {
          runs.set(i, (runs.get(i) ?? 0) + 1);
          tx.set(`effect/${i}`, i);
          if (i === 2) throw new Error('handler 2 failed');
        }),
      ),
    );
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect((outcomes[2] as PromiseRejectedResult).reason.message).toBe('handler 2 failed');
    expect(await stores.transaction(async (tx) => tx.keys('effect/'))).toEqual(['effect/0', 'effect/1', 'effect/3', 'effect/4']);
    expect(runner.transactions).toBe(2); // the rolled-back batch, then the survivors
    expect(runs.get(0)).toBe(2); // siblings of a failure run again: the documented price
    expect(runs.get(2)).toBe(1);
  });

  it('with a batch size of 1 is a plain transaction per work', async () => {
    const stores = memoryStores();
    const runner = counted(stores);
    const batcher = new TransactionBatcher(runner, 1);
    await Promise.all([1, 2, 3].map((i) => batcher.transaction(async (tx) => tx.set(`k${i}`, i))));
    expect(runner.transactions).toBe(3);
  });
});
