import { describeStoreSuite, type StorePlanEntry } from './abilitySuite.js';
import type { StoreConformanceOptions } from './harness.js';
import {
  countsFromLastSave,
  deletesBacklogInChunks,
  keepsAwaitingStart,
  deletesOldFinished,
  keepsRunning,
  type SagaRetentionSettings,
  type SagaRetentionTestStores,
} from './sagaRetentionTests.js';

/** Every test of the saga retention suite, by exact title. */
export const SAGA_RETENTION_CONFORMANCE_TESTS = [
  'deletes finished instances last saved longer ago than the retention, of every saga, and counts them',
  'never deletes a running instance, nor one of a status it does not know, however old',
  'keeps instances awaiting their start event, however old: their events would be lost',
  'counts the age from the last save, by the stores clock; a deleted id is free again',
  'deletes a backlog of more than two chunks in one sweep, keeping old running instances',
] as const;

export type SagaRetentionConformanceTest = (typeof SAGA_RETENTION_CONFORMANCE_TESTS)[number];

/** Options of {@link describeSagaRetentionConformance}: the store suites' harness, and the stores' retention settings. */
export interface SagaRetentionConformanceOptions<Tx, S extends SagaRetentionTestStores<Tx>>
  extends StoreConformanceOptions<Tx, S, SagaRetentionConformanceTest>,
    SagaRetentionSettings {}

/**
 * Declares the conformance suite of saga retention, for stores with saga state and a retention
 * sweep (`hasSagas(stores) && canSweepRetention(stores)`): `sweepRetention()` deletes the instances
 * whose status is `completed` or `failed` and whose `updatedAt` is more than
 * `sagaRetentionMs` before the stores' clock (the context's `clock`, which `create` must give the
 * stores), of every saga, in deletes of at most `chunk` instances until none is left, and reports
 * how many in `sagas`. A `running` or `awaiting-start` instance (it holds events already taken), or
 * one of any other status, is never deleted. Same
 * harness as `describeStoreConformance`; `create` makes stores with `sagaRetentionMs`.
 */
export function describeSagaRetentionConformance<Tx, S extends SagaRetentionTestStores<Tx>>(options: SagaRetentionConformanceOptions<Tx, S>): void {
  const settings: SagaRetentionSettings = { sagaRetentionMs: options.sagaRetentionMs, chunk: options.chunk };
  const plan: readonly StorePlanEntry<Tx, S, SagaRetentionConformanceTest>[] = [
    ['deletes finished instances last saved longer ago than the retention, of every saga, and counts them', deletesOldFinished<Tx>(settings), []],
    ['never deletes a running instance, nor one of a status it does not know, however old', keepsRunning<Tx>(settings), []],
    ['keeps instances awaiting their start event, however old: their events would be lost', keepsAwaitingStart<Tx>(settings), []],
    ['counts the age from the last save, by the stores clock; a deleted id is free again', countsFromLastSave<Tx>(settings), []],
    ['deletes a backlog of more than two chunks in one sweep, keeping old running instances', deletesBacklogInChunks<Tx>(settings), []],
  ];
  describeStoreSuite('Saga retention conformance', SAGA_RETENTION_CONFORMANCE_TESTS, plan, options);
}
