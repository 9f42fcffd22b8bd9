import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createManualClock, hasSagas, type App } from '@herald/core';
import { sqliteEngine, sqliteStores } from '@herald/sqlite';
import { findSaga, type SagaStatus } from '../src/index.js';
import { OrderPlaced, OrderSaga, PaymentProcessed, SeatsReserved } from './orderSaga.js';
import { closeApp, eventually, kinds, observe, sagaApp, T0, type Observed } from './runtimeSuite.js';

const DAY = 24 * 60 * 60 * 1000;

/**
 * What the stores' retention sweep does with an old instance of each status the saga runtime
 * writes. The stores name the statuses they delete in their SQL; a status added to `SagaStatus`
 * fails to compile here until it is placed, and the test below then checks the stores agree.
 */
const WHEN_OLD: Record<SagaStatus, 'deleted' | 'kept'> = {
  // it holds events already taken (inbox-marked): deleting it would lose them; the saga ends it
  // itself after awaitStartMs (as failed), and it goes then
  'awaiting-start': 'kept',
  running: 'kept',
  completed: 'deleted',
  failed: 'deleted',
};

/** When an instance of the order saga was last saved. */
async function lastSave(stores: object, instanceId: string): Promise<number> {
  if (!hasSagas(stores)) throw new Error('the embedded stores keep saga state');
  const record = await stores.sagas.find(OrderSaga.name, instanceId);
  if (!record) throw new Error(`no instance ${instanceId}`);
  return record.updatedAt;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function dataDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'herald-saga-retention-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

describe('saga retention on the embedded engine', () => {
  it('deletes an old instance of every status the runtime ends in, never a running one or one awaiting its start', async () => {
    const clock = createManualClock(T0);
    const stores = sqliteStores({ path: join(await dataDir(), 'store.db'), clock });
    cleanups.push(() => stores.close());
    const statuses = Object.keys(WHEN_OLD) as SagaStatus[];
    await stores.transaction(async (tx) => {
      for (const status of statuses) {
        await stores.sagas.save(tx, { saga: 'order', instanceId: status, status, version: 1, state: { status }, createdAt: T0, updatedAt: T0 });
      }
    });
    await clock.advance(365 * DAY);
    expect((await stores.sweepRetention()).sagas).toBe(statuses.filter((s) => WHEN_OLD[s] === 'deleted').length);
    const left = await Promise.all(statuses.map(async (s) => [s, (await stores.sagas.find('order', s)) ? 'kept' : 'deleted'] as const));
    expect(Object.fromEntries(left)).toEqual(WHEN_OLD);
  });

  it('deletes a completed flow once older than the retention, and one whose start never came once it ended on its timer; a late event then starts from nothing', async () => {
    const clock = createManualClock(T0);
    const dir = await dataDir();
    // an app on the data directory; it runs only while the test needs it, since advancing the
    // manual clock by days under a running app would wake its pollers at every step on the way
    const run = async (body: (app: App<unknown>, observed: Observed) => Promise<void>) => {
      const engine = sqliteEngine({ dataDir: dir, stores: { clock } });
      const observed = observe();
      const app = sagaApp({ broker: engine.broker, stores: engine.stores }, clock, observed, { billing: true });
      try {
        await app.start();
        await body(app, observed);
      } finally {
        await closeApp(app, clock);
      }
    };
    const status = async (app: App<unknown>, orderId: string) => (await findSaga(app.stores, OrderSaga, orderId))?.status;

    const saves: number[] = [];
    await run(async (app) => {
      await app.publish(OrderPlaced, { orderId: 'o-1', seats: 2, totalCents: 5000 }, { correlationId: 'o-1' });
      // a payment whose order never reaches the saga: its instance waits for a start that never comes
      await app.publish(PaymentProcessed, { orderId: 'o-orphan', success: true, amountCents: 10 }, { correlationId: 'o-orphan' });
      await eventually(async () => (await status(app, 'o-1')) === 'completed', 'o-1 completed', clock);
      await eventually(async () => (await status(app, 'o-orphan')) === 'awaiting-start', 'o-orphan waiting for its start', clock);
      // when each was last saved: age counts from there
      for (const id of ['o-1', 'o-orphan']) saves.push(await lastSave(app.stores, id));
    });
    await clock.advance(20 * DAY);
    const ended: number[] = [];
    await run(async (app) => {
      await app.publish(OrderPlaced, { orderId: 'o-2', seats: 1, totalCents: 700 }, { correlationId: 'o-2' });
      await eventually(async () => (await status(app, 'o-2')) === 'completed', 'o-2 completed', clock);
      // its start timer is long due: the orphan ends, never started
      await eventually(async () => (await status(app, 'o-orphan')) === 'failed', 'o-orphan ended', clock);
      for (const id of ['o-2', 'o-orphan']) ended.push(await lastSave(app.stores, id));
    });

    // 30 days (the default retention) after the first of them was saved, nothing goes yet: not older than it
    await clock.advance(Math.min(...saves) + 30 * DAY - clock.now());
    const stores = sqliteStores({ path: join(dir, 'store.db'), clock });
    try {
      expect((await stores.sweepRetention()).sagas).toBe(0);
      await clock.advance(Math.max(...saves) + 30 * DAY + 1 - clock.now());
      expect((await stores.sweepRetention()).sagas).toBe(1);
      expect(await findSaga(stores, OrderSaga, 'o-1')).toBeUndefined();
      expect((await findSaga(stores, OrderSaga, 'o-orphan'))?.status, 'ended 10 days ago').toBe('failed');
      expect((await findSaga(stores, OrderSaga, 'o-2'))?.status, 'completed 10 days ago').toBe('completed');
      await clock.advance(Math.max(...ended) + 30 * DAY + 1 - clock.now());
      expect((await stores.sweepRetention()).sagas).toBe(2);
      expect(await findSaga(stores, OrderSaga, 'o-orphan')).toBeUndefined();
    } finally {
      await stores.close();
    }

    await run(async (app, observed) => {
      // a late step event of the deleted flow is kept as of a new instance, waiting for its start
      await app.publish(SeatsReserved, { orderId: 'o-1', reservationId: 'late' }, { correlationId: 'o-1' });
      await eventually(async () => (await status(app, 'o-1')) === 'awaiting-start', 'o-1 kept as awaiting its start', clock);
      expect(kinds(observed, 'o-1')).toEqual([]);
      // and its start event, sent again, runs the flow again: nothing remembers the first run
      await app.publish(OrderPlaced, { orderId: 'o-1', seats: 2, totalCents: 5000 }, { correlationId: 'o-1' });
      await eventually(() => kinds(observed, 'o-1').includes('SagaCompleted'), 'o-1 completed a second time', clock);
      expect(kinds(observed, 'o-1')).toEqual(['SagaStarted', 'SagaStepCompleted:reserve', 'SagaStepCompleted:payment', 'SagaCompleted']);
    });
  });
});
