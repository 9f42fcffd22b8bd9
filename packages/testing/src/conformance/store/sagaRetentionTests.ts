import type { RetentionSweep, SagaRecord } from '@herald/core';
import { expect } from 'vitest';
import type { StoreFixture } from './fixture.js';
import type { SagaTestStores } from './sagaStoreTests.js';

/** Stores with saga state and a retention sweep. */
export type SagaRetentionTestStores<Tx> = SagaTestStores<Tx> & RetentionSweep;

/** What the tests need to know of the stores under test. */
export interface SagaRetentionSettings {
  /** The stores' saga retention, in ms. */
  readonly sagaRetentionMs: number;
  /** Most instances one delete of the sweep takes. */
  readonly chunk: number;
}

type F<Tx> = StoreFixture<Tx, SagaRetentionTestStores<Tx>>;

const STATE = { data: { orderId: 'o-1' }, steps: [{ name: 'payment', status: 'completed' }] };

/** An instance last saved `age` ms before the suite's clock says now. */
function instance<Tx>(f: F<Tx>, instanceId: string, status: string, age: number, fields: Partial<SagaRecord> = {}): SagaRecord {
  const updatedAt = f.clock.now() - age;
  return { saga: 'booking', instanceId, status, version: 1, state: { ...STATE, status }, createdAt: updatedAt - 1000, updatedAt, ...fields };
}

async function saveAll<Tx>(f: F<Tx>, records: readonly SagaRecord[]): Promise<void> {
  await f.stores.transaction(async (tx) => {
    for (const r of records) expect(await f.stores.sagas.save(tx, r), `${r.saga}/${r.instanceId} v${r.version}`).toBe(true);
  });
}

/** The ids of `candidates` still found (committed), in the order given. */
async function kept<Tx>(f: F<Tx>, candidates: readonly SagaRecord[]): Promise<string[]> {
  const found = await Promise.all(candidates.map((r) => f.stores.sagas.find(r.saga, r.instanceId)));
  return candidates.filter((_, i) => found[i] !== undefined).map((r) => `${r.saga}/${r.instanceId}`);
}

const names = (records: readonly SagaRecord[]) => records.map((r) => `${r.saga}/${r.instanceId}`);

/**
 * Completed and failed instances last saved longer ago than the retention are deleted, of every
 * saga; ones saved exactly a retention ago or later stay; the sweep counts what it deleted.
 */
export function deletesOldFinished<Tx>(settings: SagaRetentionSettings) {
  return async (f: F<Tx>): Promise<void> => {
    const R = settings.sagaRetentionMs;
    const old = [
      instance(f, 'completed-old', 'completed', R + 1),
      instance(f, 'failed-old', 'failed', 3 * R),
      instance(f, 'completed-old', 'completed', R + 60_000, { saga: 'payment' }),
    ];
    const young = [
      instance(f, 'completed-at-retention', 'completed', R),
      instance(f, 'failed-young', 'failed', R - 1),
      instance(f, 'completed-now', 'completed', 0, { saga: 'payment' }),
    ];
    await saveAll(f, [...old, ...young]);

    expect((await f.stores.sweepRetention()).sagas).toBe(old.length);
    expect(await kept(f, [...old, ...young])).toEqual(names(young));
    expect(await f.stores.transaction((tx) => f.stores.sagas.load(tx, 'booking', 'failed-old')), 'gone inside transactions too').toBeUndefined();
    expect((await f.stores.sweepRetention()).sagas, 'nothing left to delete').toBe(0);
  };
}

/** A running instance is never deleted, however old, and neither is one whose status the sweep does not know. */
export function keepsRunning<Tx>(settings: SagaRetentionSettings) {
  return async (f: F<Tx>): Promise<void> => {
    const R = settings.sagaRetentionMs;
    const never = [
      instance(f, 'running-ancient', 'running', 100 * R),
      instance(f, 'running-old', 'running', R + 1),
      instance(f, 'compensating-old', 'compensating', 10 * R, { saga: 'custom' }),
    ];
    await saveAll(f, never);
    expect((await f.stores.sweepRetention()).sagas).toBe(0);
    expect(await kept(f, never)).toEqual(names(never));
    expect(await f.stores.sagas.find('booking', 'running-ancient')).toEqual(never[0]);
  };
}

/**
 * Instances still waiting for their start event are never deleted, however old: they hold events
 * already taken (inbox-marked, never delivered again), which deleting them would lose.
 */
export function keepsAwaitingStart<Tx>(settings: SagaRetentionSettings) {
  return async (f: F<Tx>): Promise<void> => {
    const R = settings.sagaRetentionMs;
    const waiting = [instance(f, 'orphan-old', 'awaiting-start', R + 1), instance(f, 'orphan-ancient', 'awaiting-start', 100 * R), instance(f, 'orphan-young', 'awaiting-start', R - 1)];
    const finished = instance(f, 'finished-old', 'completed', R + 1);
    await saveAll(f, [...waiting, finished]);
    expect((await f.stores.sweepRetention()).sagas).toBe(1);
    expect(await kept(f, [...waiting, finished])).toEqual(names(waiting));
  };
}

/**
 * Age counts from the last save, by the stores' clock: an instance that ran longer than the
 * retention and finished just now stays until a whole retention after it finished. Once deleted,
 * its id is free: a save of version 1 creates it anew.
 */
export function countsFromLastSave<Tx>(settings: SagaRetentionSettings) {
  return async (f: F<Tx>): Promise<void> => {
    const R = settings.sagaRetentionMs;
    const started = instance(f, 'long-flow', 'running', 0);
    await saveAll(f, [started]);
    await f.clock.advance(2 * R);
    expect((await f.stores.sweepRetention()).sagas, 'running, however long').toBe(0);
    const finished: SagaRecord = { ...started, status: 'completed', version: 2, updatedAt: f.clock.now() };
    await saveAll(f, [finished]);
    await f.clock.advance(R);
    expect((await f.stores.sweepRetention()).sagas, 'finished exactly a retention ago').toBe(0);
    expect(await f.stores.sagas.find('booking', 'long-flow')).toEqual(finished);
    await f.clock.advance(1);
    expect((await f.stores.sweepRetention()).sagas).toBe(1);
    expect(await f.stores.sagas.find('booking', 'long-flow')).toBeUndefined();

    const again = instance(f, 'long-flow', 'awaiting-start', 0);
    await saveAll(f, [again]);
    expect(await f.stores.sagas.find('booking', 'long-flow')).toEqual(again);
  };
}

/**
 * A backlog of more than two chunks is deleted by one sweep, each instance counted once, while
 * old running instances among them stay.
 */
export function deletesBacklogInChunks<Tx>(settings: SagaRetentionSettings) {
  return async (f: F<Tx>): Promise<void> => {
    const R = settings.sagaRetentionMs;
    const total = 2 * settings.chunk + 1;
    const running = Array.from({ length: 20 }, (_, i) => instance(f, `running-${i}`, 'running', R + 1 + i));
    const statuses = ['completed', 'failed'];
    const old = Array.from({ length: total }, (_, i) => instance(f, `old-${i}`, statuses[i % 2]!, R + 1 + (i % 1000)));
    const young = Array.from({ length: 20 }, (_, i) => instance(f, `young-${i}`, 'completed', i));
    // a few transactions at a time, each saving a slice
    const all = [...old, ...running, ...young];
    const slice = 500;
    for (let at = 0; at < all.length; at += 4 * slice) {
      await Promise.all([0, 1, 2, 3].map((n) => all.slice(at + n * slice, at + (n + 1) * slice)).filter((s) => s.length > 0).map((s) => saveAll(f, s)));
    }

    expect((await f.stores.sweepRetention()).sagas).toBe(total);
    expect(await kept(f, [...running, ...young]), 'running and young ones stay').toEqual(names([...running, ...young]));
    expect(await kept(f, [old[0]!, old[settings.chunk]!, old[total - 1]!])).toEqual([]);
    expect((await f.stores.sweepRetention()).sagas).toBe(0);
  };
}
