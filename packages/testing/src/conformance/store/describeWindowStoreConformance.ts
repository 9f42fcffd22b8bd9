import type { Stores, WindowStores } from '@herald/core';
import { describeStoreSuite, type StorePlanEntry } from './abilitySuite.js';
import type { StoreConformanceOptions } from './harness.js';
import {
  closesDueWindows,
  countsLateAndRollsBack,
  keepsPartitionsApart,
  persistsWindows,
  readsKeysReplacesAndDeletes,
  readsPartitionsAlone,
  refusesMalformedInput,
  serialisesConcurrentUpdates,
  writesAndReads,
} from './windowStoreTests.js';

/** Every test of the window store suite, by exact title. */
export const WINDOW_STORE_CONFORMANCE_TESTS = [
  'writes windows and stream time and reads them back',
  'reads only the keys asked for, replaces and deletes windows',
  'closes the windows stream time reached, in close order, never moving stream time back',
  'counts late records, writes nothing for no change, rolls back with its transaction',
  'keeps partitions and aggregations apart',
  'reads the partitions alone, as read lists them, committed only',
  'serialises concurrent updates of one partition',
  'refuses malformed partitions and changes',
  'keeps windows and stream time across reopen',
] as const;

export type WindowStoreConformanceTest = (typeof WINDOW_STORE_CONFORMANCE_TESTS)[number];

/**
 * Declares the conformance suite of the window store ability (`hasWindowStore(stores)`): an
 * update reads a partition's stream time and the windows of some keys, applies a change in the
 * caller's transaction (committing or rolling back with it), and takes out the windows stream
 * time closed; concurrent updates of one partition never interleave (read-then-write adds up);
 * partitions and aggregations are independent; late records are counted; `partitions` answers
 * as `read(...).partitions` does, committed state only; with `durable`, everything survives a
 * reopen. Same harness as `describeStoreConformance`.
 */
export function describeWindowStoreConformance<Tx, S extends Stores<Tx> & WindowStores<Tx>>(options: StoreConformanceOptions<Tx, S, WindowStoreConformanceTest>): void {
  const plan: readonly StorePlanEntry<Tx, S, WindowStoreConformanceTest>[] = [
    ['writes windows and stream time and reads them back', writesAndReads, []],
    ['reads only the keys asked for, replaces and deletes windows', readsKeysReplacesAndDeletes, []],
    ['closes the windows stream time reached, in close order, never moving stream time back', closesDueWindows, []],
    ['counts late records, writes nothing for no change, rolls back with its transaction', countsLateAndRollsBack, []],
    ['keeps partitions and aggregations apart', keepsPartitionsApart, []],
    ['reads the partitions alone, as read lists them, committed only', readsPartitionsAlone, []],
    ['serialises concurrent updates of one partition', serialisesConcurrentUpdates, []],
    ['refuses malformed partitions and changes', refusesMalformedInput, []],
    ['keeps windows and stream time across reopen', persistsWindows, ['durable']],
  ];
  describeStoreSuite('Window store conformance', WINDOW_STORE_CONFORMANCE_TESTS, plan, options);
}
