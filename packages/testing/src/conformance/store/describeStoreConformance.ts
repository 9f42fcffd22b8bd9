import type { Stores } from '@herald/core';
import { describeStoreSuite } from './abilitySuite.js';
import { keepsOneOpenLetterPerRecord, listsDeadLetters, parksKeys, reopensOnlyALetterWhoseRecordHasNoOpenOne } from './deadLetterTests.js';
import type { StoreFixture } from './fixture.js';
import { STORE_CONFORMANCE_TESTS, type StoreConformanceOptions, type StoreConformanceTest } from './harness.js';
import {
  appendsManyInOrder,
  claimsBesideAnotherRelay,
  claimsExclusively,
  claimsInOrder,
  claimsPastAnOpenTransaction,
  extendsLease,
  findsByCorrelation,
  keepsKeyOrderWithTwoRelays,
  leaseExpiry,
  releasesClaims,
  skipsHeldKeys,
} from './outboxTests.js';
import { commitsTogether, concurrentTransactions, marksMany, marksOnceUnderConcurrency, marksOncePerGroup, persistsAcrossReopen, rollsBackTogether } from './transactionTests.js';

type StoreTest = <Tx>(f: StoreFixture<Tx>) => Promise<void>;

const PLAN: readonly [StoreConformanceTest, StoreTest, readonly 'durable'[]][] = [
  ['commits app writes, outbox and inbox together', commitsTogether, []],
  ['rolls back app writes, outbox and inbox when the work throws', rollsBackTogether, []],
  ['runs many concurrent transactions, some failing, each all or nothing', concurrentTransactions, []],
  ['marks an event handled once per group and event id', marksOncePerGroup, []],
  ['lets exactly one of several concurrent transactions mark the same event', marksOnceUnderConcurrency, []],
  ['marks many events at once, returning only the new ones', marksMany, []],
  ['claims outbox records in append order, holding back keys claimed by another relay', claimsInOrder, []],
  ['claims a large append in append order', appendsManyInOrder, []],
  ['skips the keys a relay holds back, returning the other keys past them', skipsHeldKeys, []],
  ['never gives one record to two relays at once', claimsExclusively, []],
  ['lets other relays claim other keys while one relay holds a claim', claimsBesideAnotherRelay, []],
  ['keeps per-key order with two relays', keepsKeyOrderWithTwoRelays, []],
  ['claims a record once whose transaction commits after a later one was published', claimsPastAnOpenTransaction, []],
  ['returns records to other relays when a lease expires, not before', leaseExpiry, []],
  ['extends a lease when the same relay claims again', extendsLease, []],
  ['gives records back at once on release', releasesClaims, []],
  ['finds records by correlation id with their publishedAt', findsByCorrelation, []],
  ['adds dead letters and lists them in order with filters', listsDeadLetters, []],
  ['tells whether a key is parked and updates dead letter statuses', parksKeys, []],
  ['keeps one open dead letter per record and group, and never changes a stored letter on add', keepsOneOpenLetterPerRecord, []],
  ['reopens a dead letter only when its record has no open one, returning the ids it left', reopensOnlyALetterWhoseRecordHasNoOpenOne, []],
  ['keeps everything across reopen', persistsAcrossReopen, ['durable']],
];

/**
 * Declares (as a vitest `describe` block) the Stores port's conformance suite for one engine:
 * transactions (atomic app writes + outbox + inbox, rollback, concurrency), the inbox, the outbox
 * claim contract (append order, skipped keys, exclusivity and per-key order across relays, relays
 * working side by side, a transaction committing after a later one was published, lease length and extension,
 * release, publishedAt), dead letters (one open letter per record and group), and persistence when `durable`. Optional abilities have suites of
 * their own (`describeIdempotencyConformance`, ...). The tests
 * use only the port, plus the harness's `writeEffect`/`readEffects` for app data, each against
 * fresh stores from `create()`. Skipped tests are registered with `it.skip` (the reason in their
 * title) and printed as `SKIP <suite> › <test>: <reason>`.
 *
 * @example
 * describeStoreConformance<MemoryTx>({
 *   name: 'memoryStores',
 *   create: async ({ clock }) => ({
 *     stores: memoryStores({ clock }),
 *     writeEffect: async (tx, id) => tx.set(`effects/${id}/${uuidv7()}`, id),
 *     readEffects: ...,
 *   }),
 * });
 */
export function describeStoreConformance<Tx, S extends Stores<Tx> = Stores<Tx>>(options: StoreConformanceOptions<Tx, S>): void {
  describeStoreSuite<Tx, S, StoreConformanceTest>('Store conformance', STORE_CONFORMANCE_TESTS, PLAN, options);
}
