import { describe, expect, it } from 'vitest';
import { memoryStores, type MemoryTx } from '@herald/testing';
import { TransactionBatcher } from '../src/runtime/transactionBatcher.js';
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

  it('in serial mode runs the works one after another, each seeing the writes of those before it', async () => {
    const stores = memoryStores();
    const runner = counted(stores);
    const batcher = new TransactionBatcher(runner, 32, 'serial');
    let running = 0;
    let maxRunning = 0;
    // read-modify-write of one counter: concurrent works in one transaction would lose updates
    const results = await Promise.all(
      Array.from({ length: 8 }, () =>
        batcher.transaction(async (tx) => {
          maxRunning = Math.max(maxRunning, ++running);
          const seen = (tx.get('counter') as number | undefined) ?? 0;
          await new Promise((r) => setTimeout(r, 2));
          tx.set('counter', seen + 1);
          running--;
          return seen;
        }),
      ),
    );
    expect(results).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(maxRunning).toBe(1);
    expect(runner.transactions).toBe(1);
    expect(await stores.transaction(async (tx) => tx.get('counter'))).toBe(8);
  });

  it('in serial mode fails only the failing work and runs the others again, the ones after it included', async () => {
    const stores = memoryStores();
    const runner = counted(stores);
    const batcher = new TransactionBatcher(runner, 32, 'serial');
    const runs = [0, 0, 0, 0];
    const outcomes = await Promise.allSettled(
      runs.map((_, i) =>
        batcher.transaction(async (tx) => {
          runs[i]!++;
          tx.set(`effect/${i}`, i);
          if (i === 1) throw new Error('work 1 failed');
        }),
      ),
    );
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect(await stores.transaction(async (tx) => tx.keys('effect/'))).toEqual(['effect/0', 'effect/2', 'effect/3']);
    // the batch stopped at the failure: work 0 ran twice, works 2 and 3 once (only in the second batch)
    expect(runs).toEqual([2, 1, 1, 1]);
    expect(runner.transactions).toBe(2);
  });
});
