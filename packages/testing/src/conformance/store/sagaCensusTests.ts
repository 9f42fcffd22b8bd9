import type { SagaCensus, SagaRecord, SagaStore, SagasInFlight, Stores } from '@herald/core';
import { expect } from 'vitest';
import type { StoreFixture } from './fixture.js';

/** Stores whose saga store counts the instances in flight. */
export type SagaCensusStores<Tx> = Stores<Tx> & { readonly sagas: SagaStore<Tx> & SagaCensus };
type F<Tx> = StoreFixture<Tx, SagaCensusStores<Tx>>;

/** Version 1 of an instance, created now. */
function instance<Tx>(f: F<Tx>, saga: string, instanceId: string, status: string): SagaRecord {
  const now = f.clock.now();
  return { saga, instanceId, status, version: 1, state: { status }, createdAt: now, updatedAt: now };
}

/** The next version of `record`, saved now with `status` (`createdAt` as the store keeps it). */
function next(f: { clock: { now(): number } }, record: SagaRecord, status: string): SagaRecord {
  return { ...record, status, version: record.version + 1, state: { status }, updatedAt: f.clock.now() };
}

async function saveAll<Tx>(f: F<Tx>, records: readonly SagaRecord[]): Promise<void> {
  await f.stores.transaction(async (tx) => {
    for (const r of records) expect(await f.stores.sagas.save(tx, r), `${r.saga}/${r.instanceId} v${r.version}`).toBe(true);
  });
}

const entry = (saga: string, status: SagasInFlight['status'], count: number, oldestCreatedAt: number): SagasInFlight => ({ saga, status, count, oldestCreatedAt });

/**
 * Running and awaiting-start instances are counted per saga and status, in saga then status order,
 * with the first save of the oldest; ended instances and statuses the census does not know are not.
 * An instance keeps its first save's time as it starts; one that ends leaves the count, and a
 * (saga, status) with none left disappears.
 */
export async function countsPerSagaAndStatus<Tx>(f: F<Tx>): Promise<void> {
  expect(await f.stores.sagas.inFlight(), 'no instance yet').toEqual([]);
  const t0 = f.clock.now();
  const order1 = instance(f, 'order', 'o-1', 'running');
  const early = instance(f, 'order', 'o-early', 'awaiting-start');
  await saveAll(f, [order1, early, instance(f, 'order', 'o-done', 'completed'), instance(f, 'order', 'o-failed', 'failed')]);
  await f.clock.advance(1000);
  const order2 = instance(f, 'order', 'o-2', 'running');
  const booking = instance(f, 'booking', 'b-1', 'running');
  await saveAll(f, [order2, booking, instance(f, 'booking', 'b-custom', 'compensating'), instance(f, 'Zeta', 'z-1', 'awaiting-start')]);
  expect(await f.stores.sagas.inFlight()).toEqual([
    entry('Zeta', 'awaiting-start', 1, t0 + 1000),
    entry('booking', 'running', 1, t0 + 1000),
    entry('order', 'awaiting-start', 1, t0),
    entry('order', 'running', 2, t0),
  ]);

  await f.clock.advance(1000);
  await saveAll(f, [next(f, order1, 'completed'), next(f, early, 'running')]);
  expect(await f.stores.sagas.inFlight(), 'o-1 ended; o-early started, counted since its first event').toEqual([
    entry('Zeta', 'awaiting-start', 1, t0 + 1000),
    entry('booking', 'running', 1, t0 + 1000),
    entry('order', 'running', 2, t0),
  ]);

  await saveAll(f, [next(f, next(f, early, 'running'), 'failed'), next(f, booking, 'completed')]);
  expect(await f.stores.sagas.inFlight(), 'only o-2 left running').toEqual([entry('Zeta', 'awaiting-start', 1, t0 + 1000), entry('order', 'running', 1, t0 + 1000)]);
}

/**
 * Only committed instances count: a new instance saved in a transaction still open is not counted,
 * an instance an open transaction ends still is, and what a rolled-back transaction saved never is.
 */
export async function countsCommittedOnly<Tx>(f: F<Tx>): Promise<void> {
  const running = instance(f, 'order', 'o-1', 'running');
  await saveAll(f, [running]);
  const before = [entry('order', 'running', 1, running.createdAt)];

  const failing = f.stores.transaction(async (tx) => {
    await f.stores.sagas.save(tx, instance(f, 'order', 'o-ghost', 'running'));
    await f.stores.sagas.save(tx, next(f, running, 'completed'));
    throw new Error('the handler failed');
  });
  await expect(failing).rejects.toThrow('the handler failed');
  expect(await f.stores.sagas.inFlight(), 'nothing of the rolled-back transaction').toEqual(before);

  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let saved!: () => void;
  const savedInTx = new Promise<void>((resolve) => (saved = resolve));
  await f.clock.advance(1000);
  const added = instance(f, 'booking', 'b-1', 'awaiting-start');
  // a store may run the work again (SQLite replays a conflicting one): the gate is open by then
  const open = f.stores.transaction(async (tx) => {
    await f.stores.sagas.load(tx, 'order', 'o-1');
    expect(await f.stores.sagas.save(tx, next(f, running, 'completed'))).toBe(true);
    expect(await f.stores.sagas.save(tx, added)).toBe(true);
    saved();
    await gate;
  });
  try {
    await Promise.race([savedInTx, open]);
    expect(await f.stores.sagas.inFlight(), 'the open transaction changes nothing yet').toEqual(before);
  } finally {
    release();
  }
  await open;
  expect(await f.stores.sagas.inFlight(), 'committed').toEqual([entry('booking', 'awaiting-start', 1, added.createdAt)]);
}
