import type { OutboxRecord, ScheduledRecord, Stores, TimerStores } from '@herald/core';
import { expect } from 'vitest';
import { outboxFields, type StoreFixture } from './fixture.js';

/** Stores with the timer ability. */
export type TimerTestStores<Tx> = Stores<Tx> & TimerStores<Tx>;
type F<Tx> = StoreFixture<Tx, TimerTestStores<Tx>>;

const SECOND = 1000;

/** A timer of `key` named `timerId`, due `inMs` from the clock's now. */
function timer<Tx>(f: F<Tx>, timerId: string, inMs: number, key = timerId): ScheduledRecord {
  return { timerId, dueAt: f.clock.now() + inMs, record: f.record(key, { correlationId: `flow-${key}` }) };
}

async function schedule<Tx>(f: F<Tx>, timers: readonly ScheduledRecord[]): Promise<void> {
  await f.stores.transaction((tx) => f.stores.timers.schedule(tx, timers));
}

/** Everything the outbox holds for relays, in claim order. */
async function outboxContents<Tx>(f: F<Tx>): Promise<readonly OutboxRecord[]> {
  return f.claim(`relay-${Math.random()}`, 1000);
}

/** A timer's record as it must reach the outbox: unchanged, stamped with the firing time. */
const firedAs = (scheduled: ScheduledRecord, at: number): OutboxRecord => ({ ...scheduled.record, createdAt: at });

/**
 * Scheduled timers wait (nothing in the outbox, `find` lists them); `fireDue` moves exactly the due
 * ones into the outbox (the record untouched but for `createdAt`, the firing time), reports them and
 * the next due time, and they are gone from the store.
 */
export async function firesWhenDue<Tx>(f: F<Tx>): Promise<void> {
  const t0 = f.clock.now();
  const [a, b, c] = [timer(f, 'reminder-a', 1 * SECOND), timer(f, 'reminder-b', 2 * SECOND), timer(f, 'reminder-c', 3 * SECOND)];
  await schedule(f, [a!, b!, c!]);
  expect(await outboxContents(f), 'nothing in the outbox before a timer is due').toEqual([]);
  const found = await f.stores.timers.find(['reminder-a', 'reminder-c', 'unknown']);
  expect([...found].sort((x, y) => x.dueAt - y.dueAt)).toEqual([
    { timerId: 'reminder-a', dueAt: t0 + SECOND, eventId: a.record.id, topic: 'orders', key: 'reminder-a', type: 'OrderPlaced', correlationId: 'flow-reminder-a' },
    { timerId: 'reminder-c', dueAt: t0 + 3 * SECOND, eventId: c!.record.id, topic: 'orders', key: 'reminder-c', type: 'OrderPlaced', correlationId: 'flow-reminder-c' },
  ]);

  expect(await f.stores.timers.fireDue({ now: t0 + 500, limit: 10 })).toEqual({ fired: [], nextDueAt: t0 + SECOND });
  const firedAt = t0 + 2 * SECOND + 500;
  expect(await f.stores.timers.fireDue({ now: firedAt, limit: 10 })).toEqual({
    fired: [
      { timerId: 'reminder-a', dueAt: t0 + SECOND, topic: 'orders', type: 'OrderPlaced' },
      { timerId: 'reminder-b', dueAt: t0 + 2 * SECOND, topic: 'orders', type: 'OrderPlaced' },
    ],
    nextDueAt: t0 + 3 * SECOND,
  });
  expect((await outboxContents(f)).map(outboxFields)).toEqual([firedAs(a, firedAt), firedAs(b!, firedAt)]);
  expect((await f.stores.timers.find(['reminder-a', 'reminder-b', 'reminder-c'])).map((t) => t.timerId)).toEqual(['reminder-c']);
  expect(await f.stores.timers.fireDue({ now: firedAt, limit: 10 }), 'fired timers are gone').toEqual({ fired: [], nextDueAt: t0 + 3 * SECOND });
  expect(await f.stores.timers.fireDue({ now: t0 + 10 * SECOND, limit: 10 })).toMatchObject({ fired: [{ timerId: 'reminder-c' }], nextDueAt: null });
}

/**
 * Schedules and cancellations commit with the transaction's other writes: a transaction that
 * throws leaves no timer and cancels none; one that commits keeps its effect and its timer.
 */
export async function commitsWithTransaction<Tx>(f: F<Tx>): Promise<void> {
  const { timers } = f.stores;
  const kept = timer(f, 'kept', SECOND);
  await schedule(f, [kept]);
  const failing = f.stores.transaction(async (tx) => {
    await f.harness.writeEffect(tx, 'rolled-back');
    await timers.schedule(tx, [timer(f, 'never', SECOND)]);
    expect(await timers.cancel(tx, 'kept')).toBe(true);
    throw new Error('business rule refused');
  });
  await expect(failing).rejects.toThrow('business rule refused');
  expect((await timers.find(['kept', 'never'])).map((t) => t.timerId)).toEqual(['kept']);

  const withEffect = timer(f, 'with-effect', SECOND);
  await f.stores.transaction(async (tx) => {
    await f.harness.writeEffect(tx, 'order-1');
    await timers.schedule(tx, [withEffect]);
  });
  expect(await f.harness.readEffects()).toEqual(['order-1']);
  const { fired } = await timers.fireDue({ now: f.clock.now() + SECOND, limit: 10 });
  expect(fired.map((t) => t.timerId).sort()).toEqual(['kept', 'with-effect']);
}

/**
 * `cancel` reports whether the timer was pending: true once (also for a timer scheduled earlier in
 * the same transaction), false for an unknown, cancelled or fired one; a cancelled timer never fires.
 */
export async function cancelsPending<Tx>(f: F<Tx>): Promise<void> {
  const { timers } = f.stores;
  await schedule(f, [timer(f, 'payment-deadline', SECOND), timer(f, 'fires', SECOND)]);
  expect(await f.stores.transaction((tx) => timers.cancel(tx, 'payment-deadline'))).toBe(true);
  expect(await f.stores.transaction((tx) => timers.cancel(tx, 'payment-deadline')), 'cancelled already').toBe(false);
  expect(await f.stores.transaction((tx) => timers.cancel(tx, 'no-such-timer'))).toBe(false);
  const sameTransaction = await f.stores.transaction(async (tx) => {
    await timers.schedule(tx, [timer(f, 'short-lived', SECOND)]);
    return timers.cancel(tx, 'short-lived');
  });
  expect(sameTransaction, 'scheduled and cancelled in one transaction').toBe(true);

  const { fired } = await timers.fireDue({ now: f.clock.now() + 5 * SECOND, limit: 10 });
  expect(fired.map((t) => t.timerId)).toEqual(['fires']);
  expect(await f.stores.transaction((tx) => timers.cancel(tx, 'fires')), 'fired already').toBe(false);
  expect((await outboxContents(f)).map((r) => r.key)).toEqual(['fires']);
}

/** Scheduling an id that is pending replaces the timer: it fires once, at the new time, with the new event. */
export async function replacesPending<Tx>(f: F<Tx>): Promise<void> {
  const { timers } = f.stores;
  const t0 = f.clock.now();
  await schedule(f, [timer(f, 'reminder', SECOND, 'first')]);
  const later = timer(f, 'reminder', 5 * SECOND, 'second');
  await schedule(f, [later]);
  expect(await timers.fireDue({ now: t0 + 2 * SECOND, limit: 10 })).toEqual({ fired: [], nextDueAt: t0 + 5 * SECOND });
  expect(await timers.fireDue({ now: t0 + 5 * SECOND, limit: 10 })).toEqual({
    fired: [{ timerId: 'reminder', dueAt: t0 + 5 * SECOND, topic: 'orders', type: 'OrderPlaced' }],
    nextDueAt: null,
  });
  expect((await outboxContents(f)).map(outboxFields)).toEqual([firedAs(later, t0 + 5 * SECOND)]);
}

/**
 * Due timers fire oldest due first, those due at the same time in the order they were scheduled
 * (so one key's scheduled events keep their order), at most `limit` per call.
 */
export async function firesInDueOrder<Tx>(f: F<Tx>): Promise<void> {
  const { timers } = f.stores;
  const t0 = f.clock.now();
  // same key, scheduled in this order, due at the same time; and earlier ones of other keys
  await schedule(f, [timer(f, 'k-1', 3 * SECOND, 'key-k'), timer(f, 'k-2', 3 * SECOND, 'key-k')]);
  await schedule(f, [timer(f, 'k-3', 3 * SECOND, 'key-k'), timer(f, 'x', 2 * SECOND, 'key-x')]);
  await schedule(f, [timer(f, 'y', SECOND, 'key-y')]);
  const now = t0 + 10 * SECOND;
  const first = await timers.fireDue({ now, limit: 2 });
  expect(first).toEqual({ fired: [expect.objectContaining({ timerId: 'y' }), expect.objectContaining({ timerId: 'x' })], nextDueAt: t0 + 3 * SECOND });
  const second = await timers.fireDue({ now, limit: 2 });
  expect(second.fired.map((t) => t.timerId)).toEqual(['k-1', 'k-2']);
  expect(second.nextDueAt, 'more is due than the limit allowed').toBe(t0 + 3 * SECOND);
  expect((await timers.fireDue({ now, limit: 2 })).fired.map((t) => t.timerId)).toEqual(['k-3']);
  expect((await outboxContents(f)).map((r) => r.key)).toEqual(['key-y', 'key-x', 'key-k', 'key-k', 'key-k']);
}

/**
 * Several schedulers firing at once (as replicas do): each of 40 due timers is fired by exactly one
 * call and appended to the outbox exactly once.
 */
export async function firesOnceUnderConcurrency<Tx>(f: F<Tx>): Promise<void> {
  const { timers } = f.stores;
  const scheduled = Array.from({ length: 40 }, (_, i) => timer(f, `t-${i}`, i % 4));
  for (let i = 0; i < scheduled.length; i += 10) await schedule(f, scheduled.slice(i, i + 10));
  const now = f.clock.now() + SECOND;
  const firedBy = await Promise.all(
    Array.from({ length: 4 }, async () => {
      const mine: string[] = [];
      for (;;) {
        const { fired } = await timers.fireDue({ now, limit: 3 });
        mine.push(...fired.map((t) => t.timerId));
        if (fired.length === 0) return mine;
      }
    }),
  );
  const all = firedBy.flat();
  expect(all.length, 'fired calls in total').toBe(40);
  expect(new Set(all)).toEqual(new Set(scheduled.map((t) => t.timerId)));
  const outbox = await outboxContents(f);
  expect(outbox).toHaveLength(40);
  expect(new Set(outbox.map((r) => r.id))).toEqual(new Set(scheduled.map((t) => t.record.id)));
}

/**
 * A timer that an open transaction cancels is never both cancelled and fired: a `fireDue` running
 * meanwhile leaves it alone (or waits for that transaction); when the cancellation commits the
 * timer never fires, when it rolls back the timer fires once, afterwards.
 */
export async function neverFiresWhatIsBeingCancelled<Tx>(f: F<Tx>): Promise<void> {
  const { timers } = f.stores;
  const now = f.clock.now() + SECOND;
  const fired: string[] = [];
  const fire = async () => fired.push(...(await timers.fireDue({ now, limit: 10 })).fired.map((t) => t.timerId));
  for (const outcome of ['commit', 'rollback'] as const) {
    const target = outcome === 'commit' ? 'cancelled' : 'revived';
    await schedule(f, [timer(f, target, 0), timer(f, `free-${outcome}`, 0)]);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let cancelled!: (wasPending: boolean) => void;
    const cancelling = new Promise<boolean>((resolve) => (cancelled = resolve));
    const open = f.stores.transaction(async (tx) => {
      cancelled(await timers.cancel(tx, target));
      await gate;
      if (outcome === 'rollback') throw new Error('changed its mind');
    });
    expect(await cancelling, `${target} was pending`).toBe(true);
    const during = fire();
    await new Promise((resolve) => setTimeout(resolve, 20));
    release();
    if (outcome === 'commit') await open;
    else await expect(open).rejects.toThrow('changed its mind');
    await during;
    await fire();
  }
  expect(fired.sort()).toEqual(['free-commit', 'free-rollback', 'revived']);
  expect((await outboxContents(f)).map((r) => r.key).sort()).toEqual(['free-commit', 'free-rollback', 'revived']);
}

/** Pending timers survive closing and reopening the stores, and fire afterwards. */
export async function persistsTimers<Tx>(f: F<Tx>): Promise<void> {
  const due = timer(f, 'after-restart', SECOND);
  await f.stores.transaction(async (tx) => {
    await f.harness.writeEffect(tx, 'order-1');
    await f.stores.timers.schedule(tx, [due]);
  });
  await f.reopen();
  expect((await f.stores.timers.find(['after-restart'])).map((t) => t.dueAt)).toEqual([due.dueAt]);
  const firedAt = f.clock.now() + SECOND;
  expect((await f.stores.timers.fireDue({ now: firedAt, limit: 10 })).fired.map((t) => t.timerId)).toEqual(['after-restart']);
  expect((await outboxContents(f)).map(outboxFields)).toEqual([firedAs(due, firedAt)]);
}
