import { Type } from '@sinclair/typebox';
import { afterEach, describe, expect, it } from 'vitest';
import {
  adjustPublish,
  createApp,
  createManualClock,
  createTimerScheduler,
  defineEvent,
  ErrorCodes,
  MAX_TIMER_MS,
  silentLogger,
  type App,
  type Envelope,
  type InstrumentationEvent,
  type ManualClock,
  type TimerStore,
} from '@herald/core';
import { memoryBroker, memoryStores, type MemoryBroker, type MemoryStores, type MemoryTx } from '@herald/testing';

const OrderPlaced = defineEvent({ type: 'OrderPlaced', topic: 'orders', key: (d) => d.orderId, schema: Type.Object({ orderId: Type.String() }) });
const PaymentTimedOut = defineEvent({
  type: 'PaymentTimedOut',
  topic: 'payment-deadlines',
  key: (d) => d.orderId,
  schema: Type.Object({ orderId: Type.String() }, { additionalProperties: false }),
});

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.allSettled(cleanups.splice(0).map((c) => c()));
});

const T0 = Date.UTC(2026, 0, 1);

/** Stores kept open when an app closes, so a second app (a restart) can use them. */
function shared(stores: MemoryStores): MemoryStores {
  return { ...stores, close: async () => {} };
}

function newApp(options: { stores?: MemoryStores; broker?: MemoryBroker; clock?: ManualClock; timers?: false | { pollIntervalMs?: number } } = {}): App<MemoryTx> {
  const app = createApp<MemoryTx>({
    broker: options.broker ?? memoryBroker({ partitions: 2 }),
    stores: options.stores ?? memoryStores(),
    clock: options.clock,
    logger: silentLogger,
    events: [OrderPlaced, PaymentTimedOut],
    relay: { idleMs: 2 },
    groups: { orders: { commitIntervalMs: 10 } },
    ...(options.timers !== undefined ? { timers: options.timers } : {}),
  });
  cleanups.push(() => app.close({ deadlineMs: 1000 }));
  return app;
}

async function eventually(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * Like {@link eventually}, letting 20 ms of manual time pass between looks: the relay's idle sleep
 * runs on the app clock, and a wake-up that came while it was busy waits for that sleep to end.
 */
async function eventuallyAdvancing(clock: ManualClock, check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  await eventually(async () => (await check()) || (await clock.advance(20), false), what);
}

/**
 * When the timers of key `key` were fired: a fired timer's record carries the time of the look at
 * the timer store that moved it into the outbox (the app clock's), and keeps it on the broker.
 */
function firedAt(broker: MemoryBroker, key: string): number[] {
  return broker.records(PaymentTimedOut.topic).filter((record) => record.key === key).map((record) => record.timestamp);
}

describe('durable timers (publish.schedule)', () => {
  it('publishes a scheduled event once it is due on the app clock, not before, carrying its cause', async () => {
    const clock = createManualClock(T0);
    const stores = memoryStores({ clock });
    const { timers } = stores;
    const broker = memoryBroker({ partitions: 2 });
    const app = newApp({ clock, stores, broker });
    const timedOut: Envelope<{ orderId: string }>[] = [];
    app.on(OrderPlaced, { group: 'orders' }, async (event, ctx) => {
      await ctx.publish.schedule(PaymentTimedOut, { orderId: event.data.orderId }, { afterMs: 30_000, timerId: `payment:${event.data.orderId}` });
    });
    app.on(PaymentTimedOut, { group: 'deadlines' }, async (event) => void timedOut.push(event));
    await app.start();
    const placed = await app.publish(OrderPlaced, { orderId: 'o-1' });
    await eventually(async () => (await timers.find(['payment:o-1'])).length === 1, 'the timer scheduled');
    await clock.advance(29_999);
    await clock.advance(1);
    await eventuallyAdvancing(clock, () => timedOut.length === 1, 'the timed-out event handled');
    expect(firedAt(broker, 'o-1'), 'fired by the look at its due time, none before').toEqual([T0 + 30_000]);
    const [event] = timedOut;
    expect(event).toMatchObject({ type: 'PaymentTimedOut', key: 'o-1', correlationId: placed.correlationId, causationId: placed.id, data: { orderId: 'o-1' } });
    expect(event!.occurredAt, 'occurredAt is the due time').toBe(new Date(T0 + 30_000).toISOString());
    expect(await timers.find(['payment:o-1'])).toEqual([]);
  });

  it('never publishes a timer cancelled in a later transaction, and schedules with the transaction or not at all', async () => {
    const clock = createManualClock(T0);
    const stores = memoryStores({ clock });
    const broker = memoryBroker({ partitions: 2 });
    const app = newApp({ clock, stores, broker });
    const timedOut: string[] = [];
    app.on(PaymentTimedOut, { group: 'deadlines' }, async (event) => void timedOut.push(event.data.orderId));
    await app.start();
    await app.transaction(async (_tx, publish) => {
      await publish.schedule(PaymentTimedOut, { orderId: 'cancelled' }, { at: T0 + 1000, timerId: 'payment:cancelled' });
      await publish.schedule(PaymentTimedOut, { orderId: 'kept' }, { at: new Date(T0 + 2000) });
    });
    await expect(
      app.transaction(async (_tx, publish) => {
        await publish.schedule(PaymentTimedOut, { orderId: 'rolled-back' }, { afterMs: 500 });
        throw new Error('refused');
      }),
    ).rejects.toThrow('refused');
    expect(await app.transaction((_tx, publish) => publish.cancelTimer('payment:cancelled'))).toBe(true);
    expect(await app.publish.cancelTimer('payment:cancelled'), 'cancelled already').toBe(false);
    await clock.advance(5000);
    await eventuallyAdvancing(clock, () => timedOut.includes('kept'), 'the kept timer handled');
    // the others were due before it: fired (had they been kept) by the look that fired it or an
    // earlier one. Once the outbox is empty, all that was fired is on the broker
    await eventuallyAdvancing(clock, async () => (await stores.outbox.backlog()).length === 0, 'the outbox relayed');
    expect(broker.records(PaymentTimedOut.topic).map((record) => record.key)).toEqual(['kept']);
    expect(timedOut).toEqual(['kept']);
  });

  it('fires timers left by a process that stopped when the next one starts', async () => {
    const clock = createManualClock(T0);
    const stores = memoryStores({ clock });
    const first = newApp({ stores: shared(stores), clock, timers: false });
    await first.start();
    const scheduled = await first.publish.schedule(PaymentTimedOut, { orderId: 'o-9' }, { afterMs: 10_000 });
    expect(scheduled).toMatchObject({ timerId: scheduled.envelope.id, dueAt: T0 + 10_000 });
    await first.close();
    await clock.advance(60_000);

    const second = newApp({ stores: shared(stores), clock });
    const seen: Envelope[] = [];
    second.on(PaymentTimedOut, { group: 'deadlines' }, async (event) => void seen.push(event));
    await second.start();
    await eventuallyAdvancing(clock, () => seen.length === 1, 'the overdue timer fired at start');
    expect(seen[0]!.id, 'the event id was fixed when scheduled').toBe(scheduled.envelope.id);
  });

  it('fires within its poll interval a timer another process scheduled, and wakes early for one scheduled in this process', async () => {
    const clock = createManualClock(T0);
    const stores = memoryStores({ clock });
    const broker = memoryBroker({ partitions: 2 });
    const firing = newApp({ stores: shared(stores), broker, clock, timers: { pollIntervalMs: 5_000 } });
    const seen: string[] = [];
    firing.on(PaymentTimedOut, { group: 'deadlines' }, async (event) => void seen.push(event.data.orderId));
    // its first look, at T0, finds nothing pending: it sleeps a whole poll interval
    await firing.start();

    // another process on the same stores and broker (its relay may be the one to publish the fired timer)
    const other = newApp({ stores: shared(stores), broker: broker.connect(), clock, timers: false });
    await other.start();
    await other.publish.schedule(PaymentTimedOut, { orderId: 'from-elsewhere' }, { afterMs: 1_000 });
    await clock.advance(4_000);
    await clock.advance(1_000);
    await eventuallyAdvancing(clock, () => seen.length === 1, 'the timer fired at the poll');
    expect(firedAt(broker, 'from-elsewhere'), 'another process cannot wake this scheduler: it fired at its next poll, not when due').toEqual([T0 + 5_000]);

    const local = await firing.publish.schedule(PaymentTimedOut, { orderId: 'from-here' }, { afterMs: 1_000 });
    await clock.advance(1_000);
    // fired by the scheduler at its due time (the next poll is seconds away), then handled
    await eventually(async () => (await stores.timers.find([local.timerId])).length === 0, 'the local timer fired when due, before the next poll');
    await eventuallyAdvancing(clock, () => seen.length === 2, 'the local timer handled');
    expect(seen).toEqual(['from-elsewhere', 'from-here']);
    expect(firedAt(broker, 'from-here'), 'fired at its due time').toEqual([local.dueAt]);
  });

  it('wakes for a timer scheduled in this process once its transaction commits, from the app, a handler or a batch handler', async () => {
    const clock = createManualClock(T0);
    const stores = memoryStores({ clock });
    // polls once an hour: only a wake fires a timer before that
    const app = newApp({ clock, stores, timers: { pollIntervalMs: 3_600_000 } });
    let probes = 0;
    /**
     * Schedules a timer due now, in a transaction of its own, and waits until it fired: the
     * scheduler has looked at the store since this was called (after any wake that came before),
     * and sleeps again, its poll interval away.
     */
    const schedulerLooked = async () => {
      const timerId = `probe-${++probes}`;
      await app.publish.schedule(PaymentTimedOut, { orderId: timerId }, { afterMs: 0, timerId });
      await eventually(async () => (await stores.timers.find([timerId])).length === 0, `the scheduler firing ${timerId}`);
    };
    const handled: string[] = [];
    app.instrumentation.on((fact) => fact.kind === 'handled' && handled.push(fact.group));
    app.on(OrderPlaced, { group: 'orders' }, async (event, ctx) => {
      await ctx.publish.schedule(PaymentTimedOut, { orderId: event.data.orderId }, { afterMs: 0, timerId: 'from-handler' });
      await schedulerLooked(); // a scheduler woken by the schedule itself has looked before this transaction commits
    });
    app.onBatch(OrderPlaced, { group: 'batches' }, async (events, ctx) => {
      await ctx.publish.schedule(PaymentTimedOut, { orderId: events[0]!.data.orderId }, { afterMs: 0, timerId: 'from-batch' });
      await schedulerLooked();
    });
    await app.start();
    await schedulerLooked(); // the scheduler sleeps its poll interval: nothing is pending
    const firedWithoutTime = async (timerId: string) =>
      eventually(async () => (await stores.timers.find([timerId])).length === 0, `${timerId} fired once committed, the clock unmoved`, 2_000);

    await app.transaction(async (_tx, publish) => {
      await publish.schedule(PaymentTimedOut, { orderId: 'o-1' }, { afterMs: 0, timerId: 'from-app' });
      await schedulerLooked();
    });
    await firedWithoutTime('from-app');
    await app.publish(OrderPlaced, { orderId: 'o-2' });
    await eventually(() => handled.length === 2, 'both handlers committed');
    await firedWithoutTime('from-handler');
    await firedWithoutTime('from-batch');
    expect(clock.now()).toBe(T0);
  });

  it('counts fired timers as published events and reports them as timers-fired', async () => {
    const clock = createManualClock(T0);
    const app = newApp({ clock });
    const facts: InstrumentationEvent[] = [];
    app.instrumentation.on((fact) => facts.push(fact));
    let handled = 0;
    app.on(PaymentTimedOut, { group: 'deadlines' }, async () => void handled++);
    await app.start();
    await app.publish.schedule(PaymentTimedOut, { orderId: 'a' }, { afterMs: 100 });
    await app.publish.schedule(PaymentTimedOut, { orderId: 'b' }, { afterMs: 100 });
    expect(facts.filter((f) => f.kind === 'published'), 'nothing entered the outbox yet').toEqual([]);
    await clock.advance(100);
    await eventuallyAdvancing(clock, () => handled === 2, 'both handled');
    const published = facts.filter((f) => f.kind === 'published' || f.kind === 'timers-fired');
    expect(published.reduce((n, f) => n + (f.kind === 'timers-fired' ? f.count : 0), 0)).toBe(2);
    expect(published.reduce((n, f) => n + (f.kind === 'published' ? f.count : 0), 0)).toBe(2);
    expect(published.find((f) => f.kind === 'published')).toMatchObject({ topic: 'payment-deadlines', eventType: 'PaymentTimedOut' });
  });

  it('refuses bad schedules with invalid-options, and scheduling on stores without timers with timers-unavailable', async () => {
    const app = newApp();
    await app.start();
    const bad = [
      {},
      { at: 1, afterMs: 1 },
      { afterMs: -1 },
      { afterMs: Number.NaN },
      { at: new Date('not a date') },
      { at: 1e16 }, // finite, but beyond the range of a Date: it would be the event's occurredAt
      { at: -1e16 },
      { afterMs: 8.64e15 }, // due after the last time a Date holds
      { afterMs: 1, occurredAt: new Date(Number.NaN) },
      { afterMs: 1, timerId: '' },
      { afterMs: 1, timerId: 'x'.repeat(501) },
    ];
    for (const options of bad) {
      await expect(app.publish.schedule(PaymentTimedOut, { orderId: 'o' }, options as never), JSON.stringify(options)).rejects.toMatchObject({ code: ErrorCodes.invalidOptions });
    }
    await expect(app.publish.schedule(PaymentTimedOut, { orderId: 7 } as never, { afterMs: 1 })).rejects.toMatchObject({ code: ErrorCodes.schemaViolation });

    const { timers: _none, ...withoutTimers } = memoryStores() as MemoryStores;
    const plain = createApp<MemoryTx>({ broker: memoryBroker(), stores: withoutTimers, logger: silentLogger });
    cleanups.push(() => plain.close());
    await plain.start();
    await expect(plain.publish.schedule(PaymentTimedOut, { orderId: 'o' }, { afterMs: 1 })).rejects.toMatchObject({ code: ErrorCodes.timersUnavailable });
    await expect(plain.publish.cancelTimer('t')).rejects.toMatchObject({ code: ErrorCodes.timersUnavailable });
    expect(() => createApp<MemoryTx>({ broker: memoryBroker(), stores: withoutTimers, timers: { pollIntervalMs: 10 } })).toThrow(/no timer store/);
  });

  it('keeps schedule and cancelTimer on a publish adjusted by a layer (adjustPublish), with the adjusted options', async () => {
    const clock = createManualClock(T0);
    const stores = memoryStores({ clock });
    const app = newApp({ clock, stores, timers: false });
    await app.start();
    const scheduled = await app.transaction(async (_tx, publish) => {
      const correlated = adjustPublish(publish, (options) => ({ correlationId: 'c-7', ...options }));
      return correlated.schedule(PaymentTimedOut, { orderId: 'a' }, { afterMs: 1_000, timerId: 'payment:a', key: 'k-a' });
    });
    expect(scheduled).toMatchObject({ timerId: 'payment:a', dueAt: T0 + 1_000, envelope: { correlationId: 'c-7', key: 'k-a', data: { orderId: 'a' } } });
    expect((await stores.timers.find(['payment:a'])).map((t) => t.dueAt)).toEqual([T0 + 1_000]);
    const cancelled = await app.transaction((_tx, publish) => adjustPublish(publish, (options) => options).cancelTimer('payment:a'));
    expect(cancelled).toBe(true);
    expect(await stores.timers.find(['payment:a'])).toEqual([]);
  });
});

describe('the timer scheduler', () => {
  it('retries a failing store after a backoff and validates its options', async () => {
    const clock = createManualClock(T0);
    const stores = memoryStores({ clock });
    let failures = 2;
    const flaky: TimerStore<MemoryTx> = {
      ...stores.timers,
      fireDue: async (options) => {
        if (failures-- > 0) throw new Error('database restarting');
        return stores.timers.fireDue(options);
      },
    };
    await stores.transaction((tx) =>
      stores.timers.schedule(tx, [{ timerId: 't', dueAt: T0, record: { id: '0190c7b8-8a5e-7000-8000-000000000001', topic: 'x', key: 'k', type: 'X', correlationId: 'c', value: '{}', headers: {}, createdAt: T0 } }]),
    );
    const warnings: string[] = [];
    const logger = { ...silentLogger, warn: (message: string) => void warnings.push(message), child: () => logger };
    const scheduler = createTimerScheduler({ timers: flaky, clock, logger }, { backoff: { initialDelayMs: 100, maxDelayMs: 100, jitter: 0 } });
    await scheduler.start(new AbortController().signal);
    cleanups.push(() => scheduler.close({ deadlineMs: 0 }));
    await eventually(() => warnings.length === 1, 'the first failure logged');
    await clock.advance(100);
    await eventually(() => warnings.length === 2, 'the second failure logged');
    await clock.advance(100);
    await eventually(async () => (await stores.outbox.backlog()).length === 1, 'the timer fired after the retries');
    expect(warnings).toEqual(['timers: firing due timers failed, retrying', 'timers: firing due timers failed, retrying']);
    expect(() => createTimerScheduler({ timers: flaky }, { pollIntervalMs: 0 })).toThrow(/pollIntervalMs/);
    expect(() => createTimerScheduler({ timers: flaky }, { pollIntervalMs: MAX_TIMER_MS + 1 })).toThrow(expect.objectContaining({ code: ErrorCodes.invalidOptions, message: expect.stringContaining('pollIntervalMs') }));
    expect(() => createTimerScheduler({ timers: flaky }, { backoff: { maxDelayMs: MAX_TIMER_MS + 1 } })).toThrow(expect.objectContaining({ code: ErrorCodes.invalidOptions }));
    expect(() => createTimerScheduler({ timers: flaky }, { batchSize: 1.5 })).toThrow(/batchSize/);
  });

  it('stops at once when closed while a round runs, whatever its poll interval or backoff, and never runs when started stopped', async () => {
    const clock = createManualClock(T0);
    const stores = memoryStores({ clock });
    for (const failing of [false, true]) {
      let entered!: () => void;
      const inRound = new Promise<void>((resolve) => (entered = resolve));
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const slow: TimerStore<MemoryTx> = {
        ...stores.timers,
        fireDue: async (options) => {
          entered();
          await gate;
          if (failing) throw new Error('database restarting');
          return stores.timers.fireDue(options);
        },
      };
      const scheduler = createTimerScheduler({ timers: slow, clock }, { pollIntervalMs: 3_600_000, backoff: { initialDelayMs: 3_600_000, maxDelayMs: 3_600_000, jitter: 0 } });
      await scheduler.start(new AbortController().signal);
      await inRound;
      let closed = false;
      const closing = scheduler.close({ deadlineMs: 0 }).then(() => (closed = true));
      release();
      // the clock never moves: a scheduler that went to sleep after the round would never close
      await eventually(() => closed, `close during a ${failing ? 'failing' : 'working'} round`, 2_000);
      await closing;
    }

    let rounds = 0;
    const counting: TimerStore<MemoryTx> = { ...stores.timers, fireDue: async (options) => (rounds++, stores.timers.fireDue(options)) };
    const stopped = createTimerScheduler({ timers: counting, clock });
    await stopped.start(AbortSignal.abort());
    // close() returns once its loop has ended: a round it ran is counted by then
    await stopped.close({ deadlineMs: 0 });
    expect(rounds).toBe(0);
  });
});
