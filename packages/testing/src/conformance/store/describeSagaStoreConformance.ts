import { describeStoreSuite, type StorePlanEntry } from './abilitySuite.js';
import type { StoreConformanceOptions } from './harness.js';
import {
  commitsWithTransaction,
  comparesVersions,
  findsCommittedOnly,
  keepsInstancesApart,
  losesNoUpdate,
  persistsInstances,
  savesAndLoads,
  type SagaTestStores,
} from './sagaStoreTests.js';

/** Every test of the saga store suite, by exact title. */
export const SAGA_STORE_CONFORMANCE_TESTS = [
  'saves a new instance and reads it back, in transactions and outside them',
  'saves only on top of the version before it',
  'commits or rolls back instance changes with the transaction',
  'loses no update when concurrent transactions change one instance',
  'keeps instances of different sagas and ids apart',
  'shows only committed instances outside transactions',
  'keeps instances across reopen',
] as const;

export type SagaStoreConformanceTest = (typeof SAGA_STORE_CONFORMANCE_TESTS)[number];

/**
 * Declares the conformance suite of the saga state ability (`hasSagas(stores)`): instances keyed by
 * saga and instance id, their JSON state read back whole; `save` as a compare-and-set on the
 * version, so concurrent read-modify-write transactions (loading again after a refused save) lose
 * no update; saves commit or roll back with their transaction; `find` reads committed state; and
 * with `durable` instances survive a reopen. Same harness as `describeStoreConformance`.
 */
export function describeSagaStoreConformance<Tx, S extends SagaTestStores<Tx>>(options: StoreConformanceOptions<Tx, S, SagaStoreConformanceTest>): void {
  const plan: readonly StorePlanEntry<Tx, S, SagaStoreConformanceTest>[] = [
    ['saves a new instance and reads it back, in transactions and outside them', savesAndLoads, []],
    ['saves only on top of the version before it', comparesVersions, []],
    ['commits or rolls back instance changes with the transaction', commitsWithTransaction, []],
    ['loses no update when concurrent transactions change one instance', losesNoUpdate, []],
    ['keeps instances of different sagas and ids apart', keepsInstancesApart, []],
    ['shows only committed instances outside transactions', findsCommittedOnly, []],
    ['keeps instances across reopen', persistsInstances, ['durable']],
  ];
  describeStoreSuite('Saga store conformance', SAGA_STORE_CONFORMANCE_TESTS, plan, options);
}
