import type { SagaRecord, SagaStores, Stores } from '@herald/core';
import { expect } from 'vitest';
import type { StoreFixture } from './fixture.js';

/** Stores with the saga state ability. */
export type SagaTestStores<Tx> = Stores<Tx> & SagaStores<Tx>;
type F<Tx> = StoreFixture<Tx, SagaTestStores<Tx>>;

/** A state with what JSON can hold: nesting, arrays, null, numbers, non-ASCII text. */
const STATE = { status: 'running', data: { orderId: 'o-1', amountCents: 25_000, note: 'Место 12A, рейс SU100 ✈', paid: false, refund: null }, steps: [{ name: 'payment', deadlineAt: 1_700_000_030_000 }] };

function record<Tx>(f: F<Tx>, fields: Partial<SagaRecord> = {}): SagaRecord {
  const now = f.clock.now();
  return { saga: 'booking', instanceId: 'booking-1', status: 'running', version: 1, state: STATE, createdAt: now, updatedAt: now, ...fields };
}

const save = <Tx>(f: F<Tx>, r: SagaRecord) => f.stores.transaction((tx) => f.stores.sagas.save(tx, r));
const load = <Tx>(f: F<Tx>, saga: string, instanceId: string) => f.stores.transaction((tx) => f.stores.sagas.load(tx, saga, instanceId));

/** A new instance saved in one transaction reads back whole, in a later transaction and outside any; later saves keep its `createdAt`. */
export async function savesAndLoads<Tx>(f: F<Tx>): Promise<void> {
  expect(await load(f, 'booking', 'booking-1'), 'nothing before the first save').toBeUndefined();
  const first = record(f);
  expect(await save(f, first)).toBe(true);
  expect(await load(f, 'booking', 'booking-1')).toEqual(first);
  expect(await f.stores.sagas.find('booking', 'booking-1')).toEqual(first);
  await f.clock.advance(1000);
  const second = record(f, { status: 'completed', version: 2, state: { ...STATE, status: 'completed' }, updatedAt: f.clock.now() });
  expect(await save(f, second)).toBe(true);
  expect(await f.stores.sagas.find('booking', 'booking-1'), 'createdAt is kept from the first save').toEqual({ ...second, createdAt: first.createdAt });
}

/** `save` writes only on top of the version before it: a stale, repeated, skipped or recreated version is refused and changes nothing. */
export async function comparesVersions<Tx>(f: F<Tx>): Promise<void> {
  expect(await save(f, record(f, { version: 2 })), 'a new instance starts at version 1').toBe(false);
  expect(await f.stores.sagas.find('booking', 'booking-1')).toBeUndefined();
  await save(f, record(f));
  expect(await save(f, record(f, { status: 'recreated' })), 'version 1 again').toBe(false);
  const v2 = record(f, { version: 2, status: 'step-1' });
  expect(await save(f, v2)).toBe(true);
  expect(await save(f, record(f, { version: 2, status: 'lost-update' })), 'a second writer of version 2').toBe(false);
  expect(await save(f, record(f, { version: 4, status: 'skipped' })), 'a version skipped').toBe(false);
  expect(await f.stores.sagas.find('booking', 'booking-1')).toEqual(v2);
}

/** Saves commit with the transaction's other writes, or vanish with them. */
export async function commitsWithTransaction<Tx>(f: F<Tx>): Promise<void> {
  const v1 = record(f);
  await save(f, v1);
  const failing = f.stores.transaction(async (tx) => {
    await f.harness.writeEffect(tx, 'rolled-back');
    expect(await f.stores.sagas.save(tx, record(f, { version: 2, status: 'failed' }))).toBe(true);
    expect(await f.stores.sagas.load(tx, 'booking', 'booking-1'), 'a transaction sees its own save').toMatchObject({ version: 2, status: 'failed' });
    throw new Error('handler failed after saving');
  });
  await expect(failing).rejects.toThrow('handler failed after saving');
  expect(await f.stores.sagas.find('booking', 'booking-1')).toEqual(v1);
  await f.stores.transaction(async (tx) => {
    await f.harness.writeEffect(tx, 'step-1');
    await f.stores.sagas.save(tx, record(f, { version: 2, status: 'step-1' }));
  });
  expect(await f.harness.readEffects()).toEqual(['step-1']);
  expect(await f.stores.sagas.find('booking', 'booking-1')).toMatchObject({ version: 2, status: 'step-1' });
}

/**
 * Concurrent transactions each reading an instance, adding one to it and saving (loading again
 * whenever a save is refused, as the saga runtime does) lose no update, from the instance's
 * creation on.
 */
export async function losesNoUpdate<Tx>(f: F<Tx>): Promise<void> {
  const writers = 12;
  const increment = () =>
    f.stores.transaction(async (tx) => {
      for (let round = 1; round <= 100; round++) {
        const current = await f.stores.sagas.load(tx, 'counter', 'shared');
        const count = current ? (current.state as { count: number }).count : 0;
        const next = record(f, { saga: 'counter', instanceId: 'shared', version: (current?.version ?? 0) + 1, state: { count: count + 1 } });
        if (await f.stores.sagas.save(tx, next)) return round;
      }
      throw new Error('no save succeeded in 100 rounds');
    });
  await Promise.all(Array.from({ length: writers }, increment));
  const final = await f.stores.sagas.find('counter', 'shared');
  expect(final).toMatchObject({ version: writers, state: { count: writers } });
}

/** Instances are keyed by saga and instance id together; unknown ones are absent. */
export async function keepsInstancesApart<Tx>(f: F<Tx>): Promise<void> {
  const booking = record(f, { saga: 'booking', instanceId: 'shared-id' });
  const payment = record(f, { saga: 'payment', instanceId: 'shared-id', state: { other: true } });
  const other = record(f, { saga: 'booking', instanceId: 'other-id', status: 'failed' });
  await f.stores.transaction(async (tx) => {
    for (const r of [booking, payment, other]) expect(await f.stores.sagas.save(tx, r)).toBe(true);
  });
  expect(await f.stores.sagas.find('booking', 'shared-id')).toEqual(booking);
  expect(await f.stores.sagas.find('payment', 'shared-id')).toEqual(payment);
  expect(await f.stores.sagas.find('booking', 'other-id')).toEqual(other);
  expect(await f.stores.sagas.find('payment', 'other-id')).toBeUndefined();
  expect(await f.stores.sagas.find('unknown', 'shared-id')).toBeUndefined();
}

/** `find` sees only committed state: a save in a transaction still open is invisible to it. */
export async function findsCommittedOnly<Tx>(f: F<Tx>): Promise<void> {
  const v1 = record(f);
  await save(f, v1);
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let saved!: () => void;
  const savedInTx = new Promise<void>((resolve) => (saved = resolve));
  const open = f.stores.transaction(async (tx) => {
    await f.stores.sagas.load(tx, 'booking', 'booking-1');
    await f.stores.sagas.save(tx, record(f, { version: 2, status: 'completed' }));
    saved();
    await gate;
  });
  await savedInTx;
  try {
    expect(await f.stores.sagas.find('booking', 'booking-1')).toEqual(v1);
  } finally {
    release();
  }
  await open;
  expect(await f.stores.sagas.find('booking', 'booking-1')).toMatchObject({ version: 2, status: 'completed' });
}

/** Instances survive closing and reopening the stores. */
export async function persistsInstances<Tx>(f: F<Tx>): Promise<void> {
  const saved = record(f);
  await f.stores.transaction(async (tx) => {
    await f.harness.writeEffect(tx, 'booking-created');
    await f.stores.sagas.save(tx, saved);
  });
  await f.reopen();
  expect(await f.harness.readEffects()).toEqual(['booking-created']);
  expect(await f.stores.sagas.find('booking', 'booking-1')).toEqual(saved);
  expect(await load(f, 'booking', 'booking-1')).toEqual(saved);
}
