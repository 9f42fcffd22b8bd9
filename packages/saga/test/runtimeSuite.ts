import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createApp, createManualClock, hasSagaCensus, hasSagas, silentLogger, type App, type Broker, type Envelope, type EventDefinition, type InstrumentationEvent, type ManualClock, type Stores } from '@herald/core';
import { AWAIT_START_STEP, deadlineTimerId, findSaga, registerSaga, sagaEvents, type RegisterSagaOptions } from '../src/index.js';
import {
  AWAIT_START_MS,
  ChargeCard,
  OrderPlaced,
  OrderSaga,
  OrderStatusUpdated,
  PAYMENT_DEADLINE_MS,
  PaymentProcessed,
  RefundPayment,
  ReleaseSeats,
  ReserveSeats,
  SeatsReserved,
  type OrderData,
} from './orderSaga.js';

/** One engine's persistence: `open` gives a broker and stores on it, again after the previous ones closed (a restart). */
export interface SagaWorld {
  open(clock: ManualClock): Promise<{ readonly broker: Broker; readonly stores: Stores<unknown> }>;
  dispose(): Promise<void>;
}

export interface SagaRuntimeTarget {
  readonly name: string;
  newWorld(): Promise<SagaWorld>;
  /** How long a test waits for each outcome (default 15 s), and for all of them (default the config's). */
  readonly waitMs?: number;
  readonly testTimeoutMs?: number;
}

export const T0 = Date.UTC(2026, 0, 1);
const events = sagaEvents(OrderSaga.topic);

let waitMs = 15_000;

export async function eventually(check: () => boolean | Promise<boolean>, what: string, clock?: ManualClock, timeoutMs = waitMs): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    // the relay and the scheduler sleep on the app clock between rounds: let a little of it pass
    if (clock) await clock.advance(20);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** What an app of the test sees: the saga topic, the commands the saga sent, its facts. */
export interface Observed {
  readonly transitions: Envelope<{ step?: string; reason?: string; timedOut?: boolean }>[];
  readonly commands: Envelope<Record<string, unknown>>[];
  readonly facts: Extract<InstrumentationEvent, { kind: 'saga' }>[];
}

/**
 * The saga runtime on a real engine: the saga in one handler, a fake inventory that reserves seats
 * (and a fake billing that pays, when `billing`), and watchers of the saga topic and of the
 * commands the saga sends. The clock is manual: deadlines pass when the test says so.
 */
export function sagaApp(
  world: { broker: Broker; stores: Stores<unknown> },
  clock: ManualClock,
  observed: Observed,
  options: { billing: boolean; saga?: RegisterSagaOptions<unknown, OrderData> },
): App<unknown> {
  const app = createApp<unknown>({
    broker: world.broker,
    stores: world.stores,
    clock,
    logger: silentLogger,
    events: [OrderPlaced, ...events.transitions],
    relay: { idleMs: 5 },
    timers: { pollIntervalMs: 10 },
  });
  app.instrumentation.on((fact) => {
    if (fact.kind === 'saga') observed.facts.push(fact);
  });
  registerSaga(app, OrderSaga, { retry: { maxAttempts: 5, initialDelayMs: 1, maxDelayMs: 5 }, ...options.saga });
  app.on(ReserveSeats, { group: 'inventory' }, async (event, ctx) => {
    await ctx.publish(SeatsReserved, { orderId: event.data.orderId, reservationId: `r-${event.data.orderId}` });
  });
  if (options.billing) {
    app.on(ChargeCard, { group: 'billing' }, async (event, ctx) => {
      await ctx.publish(PaymentProcessed, { orderId: event.data.orderId, success: true, amountCents: event.data.totalCents });
    });
  }
  // by event id: a watcher's body may run more than once for one delivery (a store may run a
  // transaction's work again), while an event published twice would have two ids
  const seen = <T extends Envelope>(list: T[], event: Envelope) => void (list.some((e) => e.id === event.id) || list.push(event as T));
  app.on(events.transitions, { group: 'watch-saga' }, async (event) => seen(observed.transitions, event));
  app.on([ReleaseSeats, RefundPayment, OrderStatusUpdated] as EventDefinition[], { group: 'watch-commands' }, async (event) => seen(observed.commands, event));
  return app;
}

/**
 * Closes an app on a manual clock: its close deadline and the sleeps it cuts short (retry
 * backoff, relay and scheduler waits) run on that clock, so time must keep passing meanwhile.
 */
export async function closeApp(app: App<unknown>, clock: ManualClock): Promise<void> {
  let closed = false;
  const closing = app.close({ deadlineMs: 2_000 }).finally(() => (closed = true));
  while (!closed) {
    await clock.advance(50);
    await new Promise((r) => setTimeout(r, 10));
  }
  await closing;
}

export const observe = (): Observed => ({ transitions: [], commands: [], facts: [] });
export const kinds = (observed: Observed, orderId: string) => observed.transitions.filter((e) => e.correlationId === orderId).map((e) => (e.data.step ? `${e.type}:${e.data.step}` : e.type));

/** Runs the saga runtime tests on one engine. */
export function describeSagaRuntime(target: SagaRuntimeTarget): void {
  describe(`saga runtime on ${target.name}`, () => {
    beforeAll(() => {
      waitMs = target.waitMs ?? 15_000;
    });
    const cleanups: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });
    const world = async () => {
      const created = await target.newWorld();
      cleanups.push(() => created.dispose());
      return created;
    };
    const started = async (app: App<unknown>) => {
      cleanups.push(() => closeApp(app, app.clock as ManualClock));
      await app.start();
      return app;
    };

    it('runs a flow to SagaCompleted, publishing every transition on the saga topic and emitting its facts after commit', async () => {
      const clock = createManualClock(T0);
      const observed = observe();
      const app = await started(sagaApp(await (await world()).open(clock), clock, observed, { billing: true }));
      await app.publish(OrderPlaced, { orderId: 'o-1', seats: 2, totalCents: 5000 }, { correlationId: 'o-1' });
      await eventually(() => observed.transitions.some((e) => e.type === 'SagaCompleted'), 'SagaCompleted', clock);
      await eventually(() => observed.commands.length === 1, 'the status update', clock);
      expect(kinds(observed, 'o-1')).toEqual(['SagaStarted', 'SagaStepCompleted:reserve', 'SagaStepCompleted:payment', 'SagaCompleted']);
      expect(observed.transitions.every((e) => e.key === 'o-1' && e.topic === 'order-saga')).toBe(true);
      expect(observed.commands.map((e) => [e.type, e.data, e.correlationId])).toEqual([['OrderStatusUpdated', { orderId: 'o-1', status: 'PAID' }, 'o-1']]);
      const state = await findSaga(app.stores, OrderSaga, 'o-1');
      expect(state).toMatchObject({ status: 'completed', data: { reservationId: 'r-o-1', paidCents: 5000 } });
      expect(state?.steps.map((s) => s.status)).toEqual(['completed', 'completed']);
      expect(observed.facts.map((f) => f.transition)).toEqual(['started', 'step-completed', 'step-completed', 'completed']);
      const timers = (app.stores as unknown as { timers: { find(ids: string[]): Promise<unknown[]> } }).timers;
      expect(await timers.find([deadlineTimerId('order', 'o-1', 'payment')]), 'the payment deadline was cancelled').toEqual([]);
    }, target.testTimeoutMs);

    it('changes the saga state, its timers and its events in one transaction: a failed attempt leaves no trace', async () => {
      const clock = createManualClock(T0);
      const observed = observe();
      let failures = 0;
      const app = await started(
        sagaApp(await (await world()).open(clock), clock, observed, {
          billing: true,
          saga: {
            // after the state was saved, the timer set and the events published, the effects refuse twice
            effects: async (_ctx, change) => {
              if (change.state.steps[0]?.status === 'completed' && change.previous?.steps[0]?.status !== 'completed' && failures < 2) {
                failures++;
                throw new Error('effects refused');
              }
            },
          },
        }),
      );
      await app.publish(OrderPlaced, { orderId: 'o-2', seats: 1, totalCents: 700 }, { correlationId: 'o-2' });
      await eventually(() => observed.transitions.some((e) => e.type === 'SagaCompleted'), 'SagaCompleted', clock);
      await eventually(() => observed.commands.length === 1, 'the status update', clock);
      expect(failures).toBe(2);
      // each transition once, though the step's event was handled three times
      expect(kinds(observed, 'o-2')).toEqual(['SagaStarted', 'SagaStepCompleted:reserve', 'SagaStepCompleted:payment', 'SagaCompleted']);
      expect(observed.facts.map((f) => f.transition)).toEqual(['started', 'step-completed', 'step-completed', 'completed']);
      expect(await findSaga(app.stores, OrderSaga, 'o-2')).toMatchObject({ status: 'completed' });
    }, target.testTimeoutMs);

    it('fires a step deadline after a restart, compensates, and refunds a payment that comes after it', async () => {
      const clock = createManualClock(T0);
      const persistence = await world();
      const first = observe();
      const before = await started(sagaApp(await persistence.open(clock), clock, first, { billing: false }));
      await before.publish(OrderPlaced, { orderId: 'o-3', seats: 3, totalCents: 900 }, { correlationId: 'o-3' });
      await eventually(async () => (await findSaga(before.stores, OrderSaga, 'o-3'))?.steps[1]?.status === 'active', 'the payment step active', clock);
      const timers = (before.stores as unknown as { timers: { find(ids: string[]): Promise<{ dueAt: number }[]> } }).timers;
      const [deadline] = await timers.find([deadlineTimerId('order', 'o-3', 'payment')]);
      expect(deadline?.dueAt).toBeGreaterThan(T0);
      await closeApp(before, clock);

      // the app restarts (same files or database), and only then does the deadline pass
      const after = observe();
      const app = await started(sagaApp(await persistence.open(clock), clock, after, { billing: false }));
      await clock.advance(deadline!.dueAt - clock.now() + PAYMENT_DEADLINE_MS / 10);
      await eventually(() => after.transitions.some((e) => e.type === 'SagaFailed'), 'SagaFailed', clock);
      await eventually(() => after.commands.length >= 2, 'the compensation and the status', clock);
      expect(kinds(after, 'o-3').filter((k) => k !== 'SagaStarted' && k !== 'SagaStepCompleted:reserve')).toEqual(['SagaStepTimedOut:payment', 'SagaCompensating', 'SagaFailed:payment']);
      const failed = after.transitions.find((e) => e.type === 'SagaFailed')!;
      expect(failed.data).toMatchObject({ timedOut: true, step: 'payment' });
      // two topics: no order between them
      expect(after.commands.map((e) => [e.type, e.data]).sort(([a], [b]) => String(a).localeCompare(String(b)))).toEqual([
        ['OrderStatusUpdated', { orderId: 'o-3', status: 'PAYMENT_TIMEOUT' }],
        ['ReleaseSeats', { orderId: 'o-3', reservationId: 'r-o-3' }],
      ]);
      expect(after.facts.map((f) => f.transition)).toEqual(['step-timed-out', 'compensating', 'failed']);

      // billing answers late: the payment is refunded, once
      await app.publish(PaymentProcessed, { orderId: 'o-3', success: true, amountCents: 900 }, { correlationId: 'o-3' });
      await eventually(() => after.commands.some((e) => e.type === 'RefundPayment'), 'the refund', clock);
      expect(after.commands.filter((e) => e.type === 'RefundPayment').map((e) => e.data)).toEqual([{ orderId: 'o-3', amountCents: 900 }]);
      const state = await findSaga(app.stores, OrderSaga, 'o-3');
      expect(state).toMatchObject({ status: 'failed', failure: { step: 'payment', timedOut: true } });
      expect(state?.steps.map((s) => s.status)).toEqual(['compensated', 'compensated']);
    }, target.testTimeoutMs);

    it('ends an instance whose start event never comes, on a timer: the census drops it, a late start event is ignored', async () => {
      const clock = createManualClock(T0);
      const observed = observe();
      const app = await started(sagaApp(await (await world()).open(clock), clock, observed, { billing: false }));
      const sagas = app.stores as unknown as object;
      if (!hasSagas(sagas) || !hasSagaCensus(sagas.sagas)) throw new Error('every engine counts its sagas in flight');
      const census = sagas.sagas;
      // a payment whose order never reaches the saga (its start event discarded from the dead letters)
      await app.publish(PaymentProcessed, { orderId: 'o-4', success: true, amountCents: 900 }, { correlationId: 'o-4' });
      await eventually(async () => (await findSaga(app.stores, OrderSaga, 'o-4'))?.status === 'awaiting-start', 'o-4 awaiting its start', clock);
      expect((await census.inFlight()).map((e) => [e.status, e.count])).toEqual([['awaiting-start', 1]]);

      await clock.advance(AWAIT_START_MS);
      await eventually(() => observed.transitions.some((e) => e.type === 'SagaStartTimedOut'), 'SagaStartTimedOut', clock);
      const state = await findSaga(app.stores, OrderSaga, 'o-4');
      expect(state).toMatchObject({ status: 'failed', startedAt: null, failure: { step: AWAIT_START_STEP, timedOut: true } });
      expect(observed.transitions.find((e) => e.type === 'SagaStartTimedOut')?.data).toMatchObject({ saga: 'order', instanceId: 'o-4', earlyEvents: 1 });
      await eventually(() => observed.facts.some((f) => f.transition === 'start-timed-out'), 'its start-timed-out fact', clock);
      expect(await census.inFlight(), 'no longer in flight').toEqual([]);

      // the start event, redriven after that: nothing starts, nothing is asked for
      await app.publish(OrderPlaced, { orderId: 'o-4', seats: 1, totalCents: 900 }, { correlationId: 'o-4' });
      // on o-4's key, so its partition's order says o-4's start was handled first
      await app.publish(OrderPlaced, { orderId: 'o-5', seats: 1, totalCents: 900 }, { correlationId: 'o-5', key: 'o-4' });
      await eventually(() => observed.transitions.some((e) => e.correlationId === 'o-5'), 'the next flow on that key started', clock);
      expect(kinds(observed, 'o-4')).toEqual(['SagaStartTimedOut']);
      expect((await findSaga(app.stores, OrderSaga, 'o-4'))?.status).toBe('failed');
    }, target.testTimeoutMs);
  });
}
