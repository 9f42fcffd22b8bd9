import { describeStoreSuite, type StorePlanEntry } from './abilitySuite.js';
import type { StoreConformanceOptions } from './harness.js';
import { countsCommittedOnly, countsPerSagaAndStatus, type SagaCensusStores } from './sagaCensusTests.js';

/** Every test of the saga census suite, by exact title. */
export const SAGA_CENSUS_CONFORMANCE_TESTS = [
  'counts running and awaiting-start instances per saga and status, with the oldest first save',
  'counts committed instances only',
] as const;

export type SagaCensusConformanceTest = (typeof SAGA_CENSUS_CONFORMANCE_TESTS)[number];

/**
 * Declares the conformance suite of the saga census ability (`hasSagaCensus(stores.sagas)`): per
 * saga and status, for `running` and `awaiting-start` instances only, how many there are and the
 * `createdAt` of the oldest (kept from its first save as it starts), in saga then status order;
 * ended instances leave it, and saves of open or rolled-back transactions never count. Same harness
 * as `describeStoreConformance`.
 */
export function describeSagaCensusConformance<Tx, S extends SagaCensusStores<Tx>>(options: StoreConformanceOptions<Tx, S, SagaCensusConformanceTest>): void {
  const plan: readonly StorePlanEntry<Tx, S, SagaCensusConformanceTest>[] = [
    ['counts running and awaiting-start instances per saga and status, with the oldest first save', countsPerSagaAndStatus, []],
    ['counts committed instances only', countsCommittedOnly, []],
  ];
  describeStoreSuite('Saga census conformance', SAGA_CENSUS_CONFORMANCE_TESTS, plan, options);
}
