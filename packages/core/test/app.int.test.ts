import { afterEach, describe, expect, it } from 'vitest';
import { apps, closeApps, Echo, newApp, Step } from './appFixture.js';
import { eventually } from './support.js';
import { createApp, MAX_TIMER_MS, policyStep, silentLogger, type AppOptions, type Envelope, type InstrumentationEvent } from '@herald/core';
import { memoryBroker, memoryStores, type MemoryTx } from '@herald/testing';

afterEach(closeApps);

describe('createApp on the in-memory engine', () => {
  it('applies each effect once, in per-key order, and chains correlation and causation ids', async () => {
    const { app, stores } = newApp({ concurrency: 4 });
    const applied: Record<string, number[]> = {};
    const echoes: Envelope[] = [];
    app.on(Step, { group: 'worker' }, async (event, ctx) => {
      await new Promise((r) => setTimeout(r, Math.random() * 2)); // keys finish out of order
      (applied[event.data.key] ??= []).push(event.data.seq);
      ctx.tx.set(`effect/${event.id}`, event.data.seq);
      await ctx.publish(Echo, { key: event.data.key, seq: event.data.seq });
    });
    app.on(Echo, { group: 'echo-reader' }, async (event) => void echoes.push(event));
    await app.start();
    const sent: Envelope[] = [];
    await Promise.all(
      Array.from({ length: 20 }, async (_, k) => {
        for (let seq = 0; seq < 10; seq++) sent.push(await app.publish(Step, { key: `k${k}`, seq }));
      }),
    );
    await eventually(() => echoes.length === 200, '200 echoes');
    for (let k = 0; k < 20; k++) expect(applied[`k${k}`]).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const effects = await stores.transaction(async (tx) => tx.keys('effect/'));
    expect(effects).toHaveLength(200);
    const byId = new Map(sent.map((e) => [e.id, e]));
    for (const echo of echoes) {
      const cause = byId.get(echo.causationId!)!;
      expect(cause).toBeDefined();
      expect(echo.correlationId).toBe(cause.correlationId);
    }
  });

  it('refuses to publish an invalid or oversized event', async () => {
    const { app } = newApp();
    await expect(app.publish(Step, { key: 'k', seq: 1.5 } as never)).rejects.toMatchObject({ code: 'schema-violation' });
    const small = createApp<MemoryTx>({ broker: memoryBroker(), stores: memoryStores(), logger: silentLogger, maxEventBytes: 200 });
    apps.push(small);
    await expect(small.publish(Echo, { key: 'k'.repeat(300), seq: 1 })).rejects.toMatchObject({ code: 'event-too-large' });
  });

  it('refuses at publish an event its consumers would refuse (an empty correlation id): its transaction commits nothing, no group skips it', async () => {
    const { app, stores } = newApp();
    const handled: number[] = [];
    app.on(Step, { group: 'worker' }, async (event) => void handled.push(event.data.seq));
    await app.start();
    // one key throughout: per-key order means a committed event of seq 0-2 would be handled before seq 3
    const refused = app.transaction(async (_tx, publish) => {
      await publish(Step, { key: 'k', seq: 0 });
      await publish(Step, { key: 'k', seq: 1 }, { correlationId: '' });
    });
    await expect(refused).rejects.toMatchObject({ code: 'invalid-options', message: expect.stringContaining('"correlationId" must be a non-empty string') });
    await expect(app.publish(Step, { key: 'k', seq: 2 }, { headers: { attempt: 1 as unknown as string } })).rejects.toMatchObject({ code: 'invalid-options' });
    await app.publish(Step, { key: 'k', seq: 3 });
    await eventually(() => handled.includes(3), 'the event published after the refused ones');
    expect(handled, 'nothing of the refused publishes was committed and relayed').toEqual([3]);
    expect(await app.deadLetters(), 'no event was skipped as malformed').toEqual([]);
    expect(await stores.outbox.backlog(), 'nothing is left in the outbox to relay').toEqual([]);
  });

  it('retries a transient failure with backoff, and a retrying key does not block its partition', async () => {
    const { app } = newApp({ concurrency: 4 });
    const seen: InstrumentationEvent[] = [];
    app.instrumentation.on((e) => seen.push(e));
    let slowFailures = 0;
    const done: string[] = [];
    app.on(Step, { group: 'worker', retry: { maxAttempts: 5, initialDelayMs: 200, maxDelayMs: 200, jitter: 0 } }, async (event) => {
      if (event.data.key === 'slow' && slowFailures < 2) {
        slowFailures++;
        throw new Error('transient');
      }
      done.push(event.data.key);
    });
    await app.start();
    await app.publish(Step, { key: 'slow', seq: 0 });
    for (let i = 0; i < 20; i++) await app.publish(Step, { key: `fast${i}`, seq: i });
    await eventually(() => done.length === 21, 'all handled', 5000);
    expect(done.indexOf('slow')).toBe(20); // every other key finished during slow's 400 ms of backoff
    expect(seen.filter((e) => e.kind === 'retried')).toHaveLength(2);
    expect(seen.find((e) => e.kind === 'handled' && e.attempts === 3)).toBeDefined();
  });

  it('with transactionBatch, shares store transactions among calls made together, each committing or failing alone', async () => {
    const broker = memoryBroker({ partitions: 2 });
    const stores = memoryStores();
    let transactions = 0;
    const counting = new Proxy(stores, {
      get(target, name, receiver) {
        if (name === 'transaction') return (work: (tx: MemoryTx) => Promise<unknown>) => (transactions++, target.transaction(work));
        return Reflect.get(target, name, receiver) as unknown;
      },
    });
    const app = createApp<MemoryTx>({ broker, stores: counting, logger: silentLogger, events: [Step], relay: { idleMs: 2 }, transactionBatch: 8 });
    apps.push(app);
    const received: number[] = [];
    app.on(Step, { group: 'worker' }, async (event) => void received.push(event.data.seq));
    await app.start();
    transactions = 0;
    const outcomes = await Promise.allSettled(
      Array.from({ length: 8 }, (_, seq) =>
        app.transaction(async (tx, publish) => {
          tx.set(`order/${seq}`, seq);
          if (seq === 3) throw new Error('order 3 refused');
          await publish(Step, { key: `k${seq}`, seq });
        }),
      ),
    );
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled']);
    // one batch rolled back at order 3, then one for the other seven
    expect(transactions).toBe(2);
    expect(await stores.transaction(async (tx) => tx.keys('order/'))).toHaveLength(7);
    await eventually(() => received.length === 7, 'the seven events');
    expect(received.sort()).toEqual([0, 1, 2, 4, 5, 6, 7]);
    expect(() => createApp<MemoryTx>({ broker, stores, transactionBatch: 0 })).toThrow(/transactionBatch/);
  });

  it('refuses durations longer than the longest timer (Node would fire it after 1 ms) with invalid-options', () => {
    const engine = { broker: memoryBroker(), stores: memoryStores(), logger: silentLogger };
    const tooLong = MAX_TIMER_MS + 1;
    const refused: Partial<AppOptions<MemoryTx>>[] = [
      { handlerDefaults: { timeoutMs: tooLong } },
      { handlerDefaults: { retry: { maxDelayMs: tooLong } } },
      { groups: { worker: { commitIntervalMs: tooLong } } },
      { closeDeadlineMs: tooLong },
      { timers: { pollIntervalMs: tooLong } },
      { timers: { backoff: { maxDelayMs: tooLong } } },
    ];
    for (const options of refused) {
      expect(() => createApp<MemoryTx>({ ...engine, ...options }), JSON.stringify(options)).toThrow(expect.objectContaining({ code: 'invalid-options', message: expect.stringContaining(String(tooLong)) }));
    }
    const app = createApp<MemoryTx>({ ...engine, handlerDefaults: { timeoutMs: MAX_TIMER_MS, retry: { maxDelayMs: MAX_TIMER_MS } }, closeDeadlineMs: MAX_TIMER_MS, timers: { pollIntervalMs: MAX_TIMER_MS } });
    expect(() => app.on(Step, { group: 'worker', timeoutMs: tooLong }, async () => {})).toThrow(expect.objectContaining({ code: 'invalid-options' }));
    expect(() => app.on(Step, { group: 'worker', retry: { initialDelayMs: tooLong, maxDelayMs: tooLong } }, async () => {})).toThrow(expect.objectContaining({ code: 'invalid-options' }));
  });
});

describe('pipeline edits at app, group and handler level', () => {
  it('applies the app’s edit, then the group’s, then the handler’s, each to its own handlers only', async () => {
    const broker = memoryBroker({ partitions: 1 });
    const trail: string[] = [];
    const mark = (name: string) => policyStep<MemoryTx>(name, (next) => async (event, ctx) => {
      trail.push(`${name}:${(event.data as { key: string }).key}`);
      return next(event, ctx);
    });
    const app = createApp<MemoryTx>({
      broker,
      stores: memoryStores(),
      logger: silentLogger,
      events: [Step, Echo],
      relay: { idleMs: 2 },
      pipeline: (p) => p.insertBefore('transaction', mark('app')),
      groups: {
        edited: { commitIntervalMs: 10, pipeline: (p) => p.insertAfter('app', mark('group')) },
        plain: { commitIntervalMs: 10 },
      },
    });
    apps.push(app);
    const seen: string[] = [];
    // the handler's edit sees the group's step (it runs last) and can remove the app's
    app.on(Step, { group: 'edited', pipeline: (p) => (expect(p.names()).toContain('group'), p.remove('app').insertAfter('group', mark('handler'))) }, async (event) => void seen.push(`edited:${event.data.key}`));
    app.on(Echo, { group: 'edited' }, async (event) => void seen.push(`echo:${event.data.key}`));
    app.on(Step, { group: 'plain' }, async (event) => void seen.push(`plain:${event.data.key}`));
    await app.start();
    await app.publish(Step, { key: 's', seq: 1 });
    await app.publish(Echo, { key: 'e', seq: 1 });
    await eventually(() => seen.length === 3, 'three deliveries');
    // Step in `edited`: the group's step, then the handler's (the app's removed); in `plain`: the app's alone
    const steps = trail.filter((t) => t.endsWith(':s'));
    expect([...steps].sort()).toEqual(['app:s', 'group:s', 'handler:s']);
    expect(steps.indexOf('group:s')).toBeLessThan(steps.indexOf('handler:s'));
    // Echo in `edited`, no handler edit: the app's step, then the group's inside it
    expect(trail.filter((t) => t.endsWith(':e'))).toEqual(['app:e', 'group:e']);
  });
});
