import type { IdempotencyStores, Stores } from '@herald/core';
import { describeStoreSuite, type StorePlanEntry } from './abilitySuite.js';
import type { StoreConformanceOptions } from './harness.js';
import { abandons, completesAndReplays, expiresAndPurges, keepsTakenOverKeys, persistsKeys, reportsConflicts, rollsBackCompletion, takesOverLapsedLeases } from './idempotencyTests.js';

/** Every test of the idempotency suite, by exact title. */
export const IDEMPOTENCY_CONFORMANCE_TESTS = [
  'begins, completes and replays idempotent requests',
  'reports in-flight and mismatched idempotency keys, also under concurrency',
  'abandons an in-flight idempotency key, never a completed one',
  'rolls back an idempotency completion with its transaction',
  'takes over a key whose lease lapsed; the old attempt cannot complete it, and its effects roll back',
  'keeps a taken-over key when the attempt that lost it abandons',
  'expires and purges idempotency records',
  'keeps completed keys across reopen',
] as const;

export type IdempotencyConformanceTest = (typeof IDEMPOTENCY_CONFORMANCE_TESTS)[number];

/**
 * Declares the conformance suite of the idempotency ability (`hasIdempotency(stores)`): a key is
 * claimed by one request at a time, its response commits with the request's transaction (or not at
 * all) and only while that request still owns the key (a lapsed lease is taken over, the old
 * owner then can neither complete nor abandon it), mismatched reuse is reported, abandoned keys free up, expired keys are purged, and with
 * `durable` completed keys survive a reopen. Same harness as `describeStoreConformance`.
 */
export function describeIdempotencyConformance<Tx, S extends Stores<Tx> & IdempotencyStores<Tx>>(options: StoreConformanceOptions<Tx, S, IdempotencyConformanceTest>): void {
  const plan: readonly StorePlanEntry<Tx, S, IdempotencyConformanceTest>[] = [
    ['begins, completes and replays idempotent requests', completesAndReplays, []],
    ['reports in-flight and mismatched idempotency keys, also under concurrency', reportsConflicts, []],
    ['abandons an in-flight idempotency key, never a completed one', abandons, []],
    ['rolls back an idempotency completion with its transaction', rollsBackCompletion, []],
    ['takes over a key whose lease lapsed; the old attempt cannot complete it, and its effects roll back', takesOverLapsedLeases, []],
    ['keeps a taken-over key when the attempt that lost it abandons', keepsTakenOverKeys, []],
    ['expires and purges idempotency records', expiresAndPurges, []],
    ['keeps completed keys across reopen', persistsKeys, ['durable']],
  ];
  describeStoreSuite('Idempotency conformance', IDEMPOTENCY_CONFORMANCE_TESTS, plan, options);
}
