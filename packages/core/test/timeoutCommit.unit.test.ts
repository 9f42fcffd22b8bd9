import { describe, expect, it } from 'vitest';
import { createHandlerContext, createInstrumentation, createManualClock, defaultPipeline, silentLogger, type Envelope, type PolicyEnv, type TransactionRunner } from '@herald/core';
import { memoryStores, type MemoryTx } from '@herald/testing';
import { TransactionBatcher } from '../src/runtime/transactionBatcher.js';

// A handler's deadline bounds its work; once that work returned and its transaction is committing,
// the commit decides the attempt. A deadline that passes during the commit (an fsync, a COMMIT round
// trip, a batch of transactions committing together) must not fail an attempt whose effects then
// commit: it would be retried as a duplicate, or dead-lettered (parking its key) though applied.

const event: Envelope = {
  id: '018bcfe5-687b-7367-b1fb-7337aff21db2',
  type: 'T',
  version: 1,
  topic: 't',
  key: 'k',
  correlationId: 'c',
  causationId: null,
  occurredAt: new Date(0).toISOString(),
  headers: {},
  data: {},
};
const delivery = { topic: 't', partition: 0, offset: 0, key: 'k', value: '{}', headers: {}, timestamp: 0 };

/** Lets promise callbacks and immediates run. */
const turn = () => new Promise((resolve) => setImmediate(resolve));

/** The memory stores' transactions, each commit held until the test lets it through. */
function heldCommits(stores: ReturnType<typeof memoryStores>) {
  const waiting: (() => void)[] = [];
  const runner: TransactionRunner<MemoryTx> = {
    transaction: (work) =>
      stores.transaction(async (tx) => {
        const value = await work(tx);
        await new Promise<void>((commit) => waiting.push(commit));
        return value;
      }),
  };
  return { runner, waiting };
}

describe('a deadline passing while the attempt commits', () => {
  it.each([
    ['the last attempt', 1],
    ['an attempt with retries left', 3],
  ])('does not fail %s: the event is applied once, not retried or dead-lettered', async (_name, maxAttempts) => {
    const clock = createManualClock(0);
    const stores = memoryStores({ clock });
    const { runner, waiting } = heldCommits(stores);
    const env: PolicyEnv<MemoryTx> = {
      stores,
      transactions: runner,
      clock,
      instrumentation: createInstrumentation(),
      logger: silentLogger,
      maxEventBytes: 1 << 20,
      handler: { name: 'g:T', group: 'g', retry: { maxAttempts, initialDelayMs: 1, maxDelayMs: 1 }, timeoutMs: 100, deadLetter: 'park-key' },
    };
    let runs = 0;
    const handler = defaultPipeline<MemoryTx>().build(env, async (e, ctx) => {
      runs++;
      ctx.tx.set(`applied/${e.id}`, true);
    });
    const ctx = createHandlerContext<MemoryTx>({ group: 'g', handler: 'g:T', delivery });
    let settled = false;
    const handled = handler(event, ctx).finally(() => (settled = true));
    while (waiting.length === 0) await new Promise((resolve) => setImmediate(resolve));

    await clock.advance(100);
    // the commit, and anything the pipeline does after it (a retry, a dead letter), let through
    for (let round = 0; round < 50 && !settled; round++) {
      waiting.splice(0).forEach((commit) => commit());
      await clock.advance(1);
      await new Promise((resolve) => setImmediate(resolve));
    }
    await handled;

    expect(ctx.state.outcome).toBe('applied');
    expect(ctx.state.attempts).toBe(1);
    expect(runs).toBe(1);
    expect(await stores.deadLetters.list()).toEqual([]);
    expect(await stores.transaction(async (tx) => tx.keys('applied/'))).toEqual([`applied/${event.id}`]);
  });

  it('still fails an attempt whose work runs past it: its transaction rolls back', async () => {
    const clock = createManualClock(0);
    const stores = memoryStores({ clock });
    const env: PolicyEnv<MemoryTx> = {
      stores,
      transactions: stores,
      clock,
      instrumentation: createInstrumentation(),
      logger: silentLogger,
      maxEventBytes: 1 << 20,
      handler: { name: 'g:T', group: 'g', retry: { maxAttempts: 1 }, timeoutMs: 100, deadLetter: 'skip' },
    };
    let started = false;
    const handler = defaultPipeline<MemoryTx>().build(env, async (e, ctx) => {
      started = true;
      ctx.tx.set(`applied/${e.id}`, true);
      await new Promise(() => {});
    });
    const ctx = createHandlerContext<MemoryTx>({ group: 'g', handler: 'g:T', delivery });
    const handled = handler(event, ctx);
    while (!started) await new Promise((resolve) => setImmediate(resolve));
    await clock.advance(100);
    await handled;

    expect(ctx.state.outcome).toBe('dead-lettered');
    expect((await stores.deadLetters.list()).map((l) => l.reason)).toEqual(['timeout']);
    expect(await stores.transaction(async (tx) => tx.keys('applied/'))).toEqual([]);
  });
});

describe('a deadline passing while a batch of transactions runs a work again', () => {
  it('fails that attempt at once: the work is no longer committing once it runs again', async () => {
    const clock = createManualClock(0);
    const stores = memoryStores({ clock });
    const batcher = new TransactionBatcher(stores, 3, 'concurrent');
    const build = (name: string, timeoutMs: number, handle: (run: number) => Promise<void>) => {
      let runs = 0;
      const env: PolicyEnv<MemoryTx> = {
        stores,
        transactions: batcher,
        clock,
        instrumentation: createInstrumentation(),
        logger: silentLogger,
        maxEventBytes: 1 << 20,
        handler: { name, group: 'g', retry: { maxAttempts: 1 }, timeoutMs, deadLetter: 'skip' },
      };
      const handler = defaultPipeline<MemoryTx>().build(env, () => handle(++runs));
      const ctx = createHandlerContext<MemoryTx>({ group: 'g', handler: name, delivery });
      return { ctx, run: (id: string) => handler({ ...event, id }, ctx) };
    };
    let releaseFirst!: () => void;
    let releaseSecond!: () => void;
    const first = new Promise<void>((resolve) => (releaseFirst = resolve));
    const second = new Promise<void>((resolve) => (releaseSecond = resolve));
    // a: done at once the first time, stuck the second; b: fails, which rolls the batch back; c: slow both times
    const a = build('a', 100, (run) => (run === 1 ? Promise.resolve() : new Promise(() => {})));
    const b = build('b', 10_000, () => Promise.reject(new Error('b fails')));
    const c = build('c', 10_000, (run) => (run === 1 ? first : second));
    let aSettled = false;
    const aDone = a.run('018bcfe5-687b-7367-b1fb-00000000000a').finally(() => (aSettled = true));
    const bDone = b.run('018bcfe5-687b-7367-b1fb-00000000000b');
    const cDone = c.run('018bcfe5-687b-7367-b1fb-00000000000c');
    await turn();
    releaseFirst();
    await bDone;
    // a runs again, beside c, and its deadline passes while its second run is stuck
    await clock.advance(100);
    for (let round = 0; round < 10 && !aSettled; round++) await turn();
    expect(aSettled).toBe(true);
    await aDone;
    expect(a.ctx.state.outcome).toBe('dead-lettered');
    releaseSecond();
    await cDone;
    expect(c.ctx.state.outcome).toBe('applied');
  });
});
