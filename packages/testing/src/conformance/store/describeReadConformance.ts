import { describeStoreSuite, type StorePlanEntry } from './abilitySuite.js';
import type { StoreConformanceOptions } from './harness.js';
import { readsOneSnapshot, refusesWrites, seesNoHalfDoneTransaction, type ReadTestStores } from './readTests.js';

/** Every test of the read transaction suite, by exact title. */
export const READ_CONFORMANCE_TESTS = [
  'a read sees neither write of a transaction between two of them, and both once it commits',
  'a write inside a read fails with read-only-transaction and changes nothing',
  'two statements of one read see one snapshot',
] as const;

export type ReadConformanceTest = (typeof READ_CONFORMANCE_TESTS)[number];

/**
 * Declares the conformance suite of read-only transactions (`hasReadTransactions(stores)`):
 * `read` sees committed data only, never another transaction between two of its writes; all its
 * statements read one snapshot; a write through its `tx` fails with the non-retriable
 * `read-only-transaction` and changes nothing. Same harness as `describeStoreConformance`, with
 * `readEffectsIn` (the effects a `tx` sees, read without writing).
 */
export function describeReadConformance<Tx, S extends ReadTestStores<Tx>>(options: StoreConformanceOptions<Tx, S, ReadConformanceTest>): void {
  const plan: readonly StorePlanEntry<Tx, S, ReadConformanceTest>[] = [
    ['a read sees neither write of a transaction between two of them, and both once it commits', seesNoHalfDoneTransaction, []],
    ['a write inside a read fails with read-only-transaction and changes nothing', refusesWrites, []],
    ['two statements of one read see one snapshot', readsOneSnapshot, []],
  ];
  describeStoreSuite('Read transaction conformance', READ_CONFORMANCE_TESTS, plan, options);
}
