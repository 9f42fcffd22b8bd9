import { describe, expect, it } from 'vitest';
import {
  compose,
  createDeliveryState,
  createHandlerContext,
  createInstrumentation,
  createManualClock,
  HeraldError,
  inbox,
  MAX_TIMER_MS,
  retry,
  recover,
  silentLogger,
  timeout,
  type Clock,
  type Envelope,
  type HandlerContext,
  type InboxStore,
  type InstrumentationEvent,
  type DeliveryState,
  type Middleware,
} from '@herald/core';

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

function context(closing = new AbortController().signal): { ctx: HandlerContext; state: DeliveryState } {
  const state = createDeliveryState(closing);
  const delivery = { topic: 't', partition: 0, offset: 0, key: 'k', value: '', headers: {}, timestamp: 0 };
  const ctx = createHandlerContext({ group: 'g', handler: 'g:T', delivery, logger: silentLogger, state });
  return { ctx, state };
}

describe('compose', () => {
  it('runs the first listed middleware outermost', async () => {
    const order: string[] = [];
    const named = (name: string): Middleware => (next) => async (e, c) => {
      order.push(`${name}>`);
      await next(e, c);
      order.push(`<${name}`);
    };
    await compose(named('a'), named('b'), named('c'))(async () => void order.push('handler'))(event, context().ctx);
    expect(order).toEqual(['a>', 'b>', 'c>', 'handler', '<c', '<b', '<a']);
  });
});

describe('retry', () => {
  it('retries with exponential backoff on the clock, then succeeds, counting attempts', async () => {
    const clock = createManualClock();
    const instrumentation = createInstrumentation();
    const seen: InstrumentationEvent[] = [];
    instrumentation.on((e) => seen.push(e));
    const attempts: number[] = [];
    const { ctx, state } = context();
    const run = retry({ maxAttempts: 5, initialDelayMs: 1000, jitter: 0, clock, instrumentation })(async (_e, c) => {
      attempts.push(c.attempt);
      if (c.attempt < 3) throw new Error('transient');
    })(event, ctx);
    await until(() => clock.pending() === 1);
    await clock.advance(999);
    expect(attempts).toEqual([1]);
    await clock.advance(1);
    await until(() => clock.pending() === 1);
    await clock.advance(2000);
    await run;
    expect(attempts).toEqual([1, 2, 3]);
    expect(state.attempts).toBe(3);
    expect(seen.filter((e) => e.kind === 'retried').map((e) => (e as { delayMs: number }).delayMs)).toEqual([1000, 2000]);
  });

  it('does not retry a non-retriable error', async () => {
    const clock = createManualClock();
    let calls = 0;
    const failing = retry({ maxAttempts: 5, clock })(async () => {
      calls++;
      throw new HeraldError('schema-violation', 'bad', { retriable: false });
    });
    await expect(failing(event, context().ctx)).rejects.toMatchObject({ code: 'schema-violation' });
    expect(calls).toBe(1);
  });

  it('gives up after maxAttempts and rethrows the last error', async () => {
    const clock = createManualClock();
    let calls = 0;
    const run = retry({ maxAttempts: 3, initialDelayMs: 10, jitter: 0, clock })(async () => {
      calls++;
      throw new Error(`failure ${calls}`);
    })(event, context().ctx);
    const settled = run.catch((e: Error) => e);
    for (const delayMs of [10, 20]) {
      await until(() => clock.pending() === 1);
      await clock.advance(delayMs);
    }
    expect(((await settled) as Error).message).toBe('failure 3');
    expect(calls).toBe(3);
  });

  it('stops waiting as soon as the consumer is closing', async () => {
    const clock = createManualClock();
    const closing = new AbortController();
    const run = retry({ maxAttempts: 5, initialDelayMs: 60_000, maxDelayMs: 60_000, clock })(async () => {
      throw new Error('transient');
    })(event, context(closing.signal).ctx);
    await until(() => clock.pending() === 1);
    closing.abort();
    await expect(run).rejects.toThrowError('transient');
  });
});

describe('timeout', () => {
  it('fails a slow attempt with a retriable timeout error and aborts its signal', async () => {
    const clock = createManualClock();
    let signal: AbortSignal | undefined;
    const run = timeout({ timeoutMs: 500, clock })(async (_e, c) => {
      signal = c.signal;
      await new Promise(() => {}); // never finishes by itself
    })(event, context().ctx);
    await until(() => clock.pending() === 1);
    await clock.advance(500);
    await expect(run).rejects.toMatchObject({ code: 'timeout', retriable: true });
    expect(signal?.aborted).toBe(true);
  });

  it('arms no timer longer than the longest one Node waits, and still expires a longer timeout when it ends', async () => {
    const manual = createManualClock();
    const delays: number[] = [];
    const clock: Clock = { ...manual, setTimer: (ms, callback) => (delays.push(ms), manual.setTimer(ms, callback)) };
    const month = 30 * 24 * 3_600_000;
    let expired = false;
    const run = timeout({ timeoutMs: month, clock })(() => new Promise(() => {}))(event, context().ctx);
    run.catch(() => (expired = true));
    await until(() => manual.pending() === 1);
    await manual.advance(month - 1);
    expect(expired, 'not expired before its deadline').toBe(false);
    await manual.advance(1);
    await expect(run).rejects.toMatchObject({ code: 'timeout' });
    // re-armed once, when the longest timer ended: not in a loop
    expect(delays).toEqual([MAX_TIMER_MS, month - MAX_TIMER_MS]);
  });

  it('lets a fast attempt through and cancels its timer', async () => {
    const clock = createManualClock();
    await timeout({ timeoutMs: 500, clock })(async () => {})(event, context().ctx);
    await until(() => clock.pending() === 0);
    expect(clock.pending()).toBe(0);
  });
});

describe('inbox', () => {
  it('does not run the handler for an attempt that timed out while its mark waited (a lock held by another attempt)', async () => {
    const clock = createManualClock();
    let markWritten!: () => void;
    const store: InboxStore<unknown> = {
      markHandled: () => new Promise<boolean>((resolve) => (markWritten = () => resolve(true))),
      findHandled: async () => [],
    };
    let ran = false;
    const tx = {};
    const inTransaction: Middleware = (next) => (e, c) => next(e, c.with({ tx }));
    const run = timeout({ timeoutMs: 500, clock })(inTransaction(inbox({ inbox: store, clock })(async () => void (ran = true))))(event, context().ctx);
    await until(() => clock.pending() === 1 && typeof markWritten === 'function');
    await clock.advance(500);
    await expect(run).rejects.toMatchObject({ code: 'timeout' });
    markWritten();
    await new Promise((resolve) => setImmediate(resolve));
    expect(ran, 'the abandoned attempt ran its handler').toBe(false);
  });
});

describe('recover', () => {
  it('turns a thrown non-error into an Error with a stack', async () => {
    const run = recover()(async () => {
      throw 'plain string';
    })(event, context().ctx);
    const error = await run.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/plain string/);
    expect((error as Error).stack).toBeTruthy();
  });
});

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !condition(); i++) await new Promise((r) => setImmediate(r));
  if (!condition()) throw new Error('condition not reached');
}
