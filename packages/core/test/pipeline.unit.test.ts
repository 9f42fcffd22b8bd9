import { describe, expect, it } from 'vitest';
import {
  CoreErrors,
  HeraldError,
  createHandlerContext,
  createInstrumentation,
  createManualClock,
  createPipeline,
  deadLetter,
  defaultPipeline,
  DEFAULT_STEPS,
  fingerprintOf,
  firstApplicationFrame,
  policyStep,
  timeout,
  type DeadLetter,
  type DeadLetterStore,
  type Envelope,
  type Handler,
  type PolicyEnv,
} from '@herald/core';
import { memoryStores, type MemoryTx } from '@herald/testing';
import { untilAttemptAborted } from '../src/pipeline/context.js';
import { fingerprintOfError } from '../src/pipeline/fingerprint.js';

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

function env(): PolicyEnv<MemoryTx> {
  const stores = memoryStores();
  return {
    stores,
    transactions: stores,
    clock: createManualClock(0),
    instrumentation: createInstrumentation(),
    logger: { debug() {}, info() {}, warn() {}, error() {}, child: () => env().logger },
    maxEventBytes: 1 << 20,
    handler: { name: 'g:T', group: 'g', retry: { maxAttempts: 1 }, timeoutMs: 1000, deadLetter: 'skip' },
  };
}

const marker = (name: string, trace: string[]) => policyStep<MemoryTx>(name, (next) => async (e, c) => {
  trace.push(name);
  await next(e, c);
});

describe('the pipeline preset', () => {
  it('lists the built-in steps in the documented order', () => {
    expect(defaultPipeline().names()).toEqual([...DEFAULT_STEPS]);
    expect(DEFAULT_STEPS).toEqual(['correlation', 'instrument', 'deadLetter', 'retry', 'timeout', 'recover', 'transaction', 'inbox']);
  });

  it('inserts, replaces and removes steps, each edit a new pipeline', () => {
    const base = defaultPipeline<MemoryTx>();
    const trace: string[] = [];
    const edited = base
      .insertBefore('retry', marker('before-retry', trace))
      .insertAfter('inbox', marker('after-inbox', trace))
      .replace('recover', marker('my-recover', trace))
      .remove('correlation')
      .append(marker('innermost', trace));
    expect(edited.names()).toEqual(['instrument', 'deadLetter', 'before-retry', 'retry', 'timeout', 'my-recover', 'transaction', 'inbox', 'after-inbox', 'innermost']);
    expect(base.names()).toEqual([...DEFAULT_STEPS]);
  });

  it('runs the steps outermost first around the handler, inside the transaction where placed there', async () => {
    const trace: string[] = [];
    const pipeline = createPipeline<MemoryTx>([marker('a', trace), marker('b', trace)])
      .append(policyStep('tx-probe', (next) => async (e, c) => {
        trace.push(`tx? ${String(safe(() => c.tx) !== undefined)}`);
        await next(e, c);
      }));
    const handler: Handler<Envelope, MemoryTx> = async () => void trace.push('handler');
    await pipeline.build(env(), handler)(event, createHandlerContext({ group: 'g', handler: 'g:T', delivery }));
    expect(trace).toEqual(['a', 'b', 'tx? false', 'handler']);
  });

  it('refuses unknown and duplicate names, and an inbox outside a transaction, with invalid-options', () => {
    const base = defaultPipeline<MemoryTx>();
    expect(() => base.remove('nope')).toThrow(expect.objectContaining({ code: 'invalid-options', message: expect.stringContaining('nope') }));
    expect(() => base.append(marker('retry', []))).toThrow(expect.objectContaining({ code: 'invalid-options', message: expect.stringContaining('twice') }));
    expect(() => policyStep('', (next) => next)).toThrow(expect.objectContaining({ code: 'invalid-options' }));
    const noTx = base.remove('transaction');
    expect(() => noTx.build(env(), async () => {})).toThrow(expect.objectContaining({ code: 'invalid-options', message: expect.stringContaining('"inbox" must run inside "transaction"') }));
    const wrongOrder = base.remove('inbox').insertBefore('transaction', base.steps.find((s) => s.name === 'inbox')!);
    expect(() => wrongOrder.build(env(), async () => {})).toThrow(expect.objectContaining({ code: 'invalid-options' }));
  });

  it('wraps a batch handler in the steps that have a batch part only, outermost first, each able to change the context', async () => {
    const trace: string[] = [];
    const batchMarker = (name: string) =>
      policyStep<MemoryTx>(name, {
        create: () => (next) => next,
        createBatch: () => (next) => async (events, ctx) => {
          trace.push(`${name}:${events.length}`);
          await next(events, { ...ctx, handler: `${ctx.handler}>${name}` });
        },
      });
    const pipeline = defaultPipeline<MemoryTx>().insertAfter('correlation', batchMarker('outer')).append(batchMarker('inner'));
    let seenHandler = '';
    const batch = pipeline.buildBatch(env(), async (events, ctx) => {
      trace.push(`handler:${events.length}`);
      seenHandler = ctx.handler;
    });
    const ctx = { tx: undefined as never, publish: undefined as never, logger: env().logger, group: 'g', handler: 'g:T', signal: new AbortController().signal, deliveries: [delivery, delivery], alone: false, attempt: 1 };
    await batch([event, event], ctx);
    // the built-in steps have no batch part: the batch's own transaction and inbox marks stand in for them
    expect(trace).toEqual(['outer:2', 'inner:2', 'handler:2']);
    expect(seenHandler).toBe('g:T>outer>inner');
    expect(() => policyStep('bad', { create: () => (next) => next, createBatch: 'no' as never })).toThrow(expect.objectContaining({ code: 'invalid-options', message: expect.stringContaining('createBatch') }));
  });

  it('without the inbox step, a transaction still binds ctx.tx but does not deduplicate', async () => {
    const e = env();
    const pipeline = defaultPipeline<MemoryTx>().remove('inbox').build(e, async (ev, ctx) => {
      ctx.tx.set(`effects/${Math.random()}`, ev.id);
    });
    const run = () => pipeline(event, createHandlerContext({ group: 'g', handler: 'g:T', delivery }));
    await run();
    await run();
    const effects = await e.stores.transaction(async (tx) => tx.keys('effects/'));
    expect(effects).toHaveLength(2);
  });
});

describe('handler contexts', () => {
  it('are changed only through with(), and tx/publish exist only inside the transaction', () => {
    const ctx = createHandlerContext<string>({ group: 'g', handler: 'g:T', delivery });
    expect(() => ctx.tx).toThrow(expect.objectContaining({ code: 'invalid-options' }));
    const inTx = ctx.with({ tx: 'the-tx', attempt: 3 });
    expect(inTx.tx).toBe('the-tx');
    expect(inTx.attempt).toBe(3);
    expect(inTx.state).toBe(ctx.state);
    expect(ctx.attempt).toBe(1);
  });

  it('abort an attempt scope on demand and when the consumer stops, also once the signal was read', () => {
    const stop = new AbortController();
    const ctx = createHandlerContext({ group: 'g', handler: 'g:T', delivery, stop: stop.signal });
    const first = ctx.beginAttempt();
    const second = ctx.beginAttempt();
    const nested = first.ctx.beginAttempt();
    const signal = second.ctx.signal; // materialised before the stop
    const nestedSignal = nested.ctx.signal;
    first.abort(new Error('timed out'));
    expect(first.ctx.aborted).toBe(true);
    expect(nestedSignal.aborted).toBe(true);
    expect(() => nested.ctx.throwIfAborted()).toThrow('timed out');
    expect(second.ctx.aborted).toBe(false);
    stop.abort(new Error('stopping'));
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toEqual(new Error('stopping'));
    expect(() => second.ctx.throwIfAborted()).toThrow('stopping');
    second.end();
    first.end();
  });

  it('let the timeout policy abort the attempt it started on any context', async () => {
    const clock = createManualClock(0);
    let seen: AbortSignal | undefined;
    const handler = timeout({ timeoutMs: 100, clock })(async (_e, c) => {
      seen = c.signal;
      await new Promise<void>((resolve) => c.signal.addEventListener('abort', () => resolve()));
    });
    const running = handler(event, createHandlerContext({ group: 'g', handler: 'g:T', delivery }));
    await clock.advance(100);
    await expect(running).rejects.toMatchObject({ code: 'timeout', retriable: true });
    expect(seen?.aborted).toBe(true);
  });

  it('tell a listener of an attempt nested in one already aborted at once, not at its own deadline', async () => {
    const ctx = createHandlerContext({ group: 'g', handler: 'g:T', delivery });
    const outer = ctx.beginAttempt();
    const expired = new Error('the overall deadline passed');
    outer.abort(expired);
    // a policy begins an inner attempt after the outer one ended (its transaction's BEGIN was slow)
    const inner = outer.ctx.beginAttempt();
    await expect(untilAttemptAborted(inner.ctx, new Promise(() => {}))).rejects.toBe(expired);
    inner.end();
    outer.end();
  });

  it('let the dead-letter policy record a failure on a context built outside the runtime', async () => {
    const added: DeadLetter[] = [];
    const store: DeadLetterStore = { add: async (l) => void added.push(l), list: async () => added, isKeyParked: async () => false, setStatus: async () => [] };
    const ctx = createHandlerContext({ group: 'g', handler: 'g:T', delivery });
    ctx.state.attemptStarted(2);
    ctx.state.attemptFailed(new Error('first'), 5);
    await deadLetter({ store, policy: 'skip', clock: createManualClock(10), instrumentation: createInstrumentation() })(async () => {
      throw new Error('card declined');
    })(event, ctx);
    expect(ctx.state.outcome).toBe('dead-lettered');
    expect(added).toHaveLength(1);
    expect(added[0]).toMatchObject({ reason: 'handler-failed', attempts: 2, firstFailureAt: 5, lastFailureAt: 10, status: 'dead' });
    expect(added[0]!.fingerprint).toMatch(/^[0-9a-f]{16}$/);
  });
});

describe('dead letter fingerprints', () => {
  const stack = (frames: string[]) => ['Error: boom', ...frames.map((f) => `    at ${f}`)].join('\n');
  const cwd = process.cwd();

  it('take the first application frame, skipping node internals, node_modules and Herald itself', () => {
    const herald = new URL('../src/pipeline/policies/retry.ts', import.meta.url).pathname;
    const frames = stack([
      'processTicksAndRejections (node:internal/process/task_queues:95:5)',
      `Object.query (${cwd}/node_modules/pg/lib/client.js:526:17)`,
      `retryHandler (${herald}:31:11)`,
      `async chargeCard (file://${cwd}/src/payment.ts:42:7)`,
      `handle (${cwd}/src/other.ts:1:1)`,
    ]);
    expect(firstApplicationFrame(frames)).toBe('chargeCard (src/payment.ts)');
    expect(firstApplicationFrame(stack([`${cwd}/src/anonymous.ts:12:3`]))).toBe('src/anonymous.ts:12');
    expect(firstApplicationFrame(stack(['node:internal/x:1:1']))).toBe('');
    expect(firstApplicationFrame(undefined)).toBe('');
  });

  it('are equal for the same code and frame, and differ by code or frame, not by message or line', () => {
    const a = stack([`chargeCard (${cwd}/src/payment.ts:42:7)`]);
    const sameFunctionOtherLine = stack([`chargeCard (${cwd}/src/payment.ts:50:1)`]);
    const other = stack([`reserveSeat (${cwd}/src/seats.ts:42:7)`]);
    expect(fingerprintOf('handler-failed', a)).toBe(fingerprintOf('handler-failed', sameFunctionOtherLine));
    expect(fingerprintOf('handler-failed', a)).not.toBe(fingerprintOf('timeout', a));
    expect(fingerprintOf('handler-failed', a)).not.toBe(fingerprintOf('handler-failed', other));
    expect(fingerprintOf('schema-violation', undefined)).toBe(fingerprintOf('schema-violation', 'ValidationError: x'));
  });

  it("of an error without an application frame, take its cause chain's first: two upcast bugs stay two groups", () => {
    const withStack = (error: Error, frames: string[]) => Object.assign(error, { stack: stack(frames) });
    const tags = withStack(new Error('no tags'), [`upcastTags (${cwd}/src/events.ts:9:1)`]);
    const price = withStack(new Error('no price'), [`upcastPrice (${cwd}/src/events.ts:20:1)`]);
    const wrapped = (cause: Error) => withStack(new HeraldError(CoreErrors.upcastFailed, 'upcast failed', { cause }), ['readEvent (node:internal/x:1:1)']);
    expect(fingerprintOfError('upcast-failed', wrapped(tags))).toBe(fingerprintOf('upcast-failed', tags.stack));
    expect(fingerprintOfError('upcast-failed', wrapped(tags))).not.toBe(fingerprintOfError('upcast-failed', wrapped(price)));
    // an error with a frame of its own is grouped by it, whatever its cause
    const own = withStack(new Error('wrapped', { cause: tags }), [`handle (${cwd}/src/handler.ts:1:1)`]);
    expect(fingerprintOfError('handler-failed', own)).toBe(fingerprintOf('handler-failed', own.stack));
    // none anywhere: the error's own stack, as before
    const internal = withStack(new Error('store down'), ['query (node:internal/x:1:1)']);
    expect(fingerprintOfError('store-failed', wrapped(internal))).toBe(fingerprintOf('store-failed', wrapped(internal).stack));
  });
});

function safe<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch {
    return undefined;
  }
}
