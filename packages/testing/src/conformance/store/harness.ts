import type { ManualClock, Stores } from '@herald/core';
import type { SkippedTest } from '../suiteTests.js';

/** Every test of the store suite, by exact title (use these names in the skip list). */
export const STORE_CONFORMANCE_TESTS = [
  'commits app writes, outbox and inbox together',
  'rolls back app writes, outbox and inbox when the work throws',
  'runs many concurrent transactions, some failing, each all or nothing',
  'marks an event handled once per group and event id',
  'lets exactly one of several concurrent transactions mark the same event',
  'marks many events at once, returning only the new ones',
  'claims outbox records in append order, holding back keys claimed by another relay',
  'claims a large append in append order',
  'skips the keys a relay holds back, returning the other keys past them',
  'never gives one record to two relays at once',
  'lets other relays claim other keys while one relay holds a claim',
  'keeps per-key order with two relays',
  'claims a record once whose transaction commits after a later one was published',
  'returns records to other relays when a lease expires, not before',
  'extends a lease when the same relay claims again',
  'gives records back at once on release',
  'finds records by correlation id with their publishedAt',
  'adds dead letters and lists them in order with filters',
  'tells whether a key is parked and updates dead letter statuses',
  'keeps one open dead letter per record and group, and never changes a stored letter on add',
  'reopens a dead letter only when its record has no open one, returning the ids it left',
  'keeps everything across reopen',
] as const;

/** The title of one store suite test: what a skip list names. */
export type StoreConformanceTest = (typeof STORE_CONFORMANCE_TESTS)[number];

/** What the suite gives `create`. */
export interface StoreTestContext {
  /**
   * A manual clock starting at the real current time. Stores that take a `Clock` should use it:
   * the suite advances it to expire claim leases (see {@link StoreConformanceOptions.leaseTime}).
   */
  readonly clock: ManualClock;
}

/** One fresh, empty set of stores under test, returned by {@link StoreConformanceOptions.create} for every test. */
export interface StoreUnderTest<Tx, S extends Stores<Tx> = Stores<Tx>> {
  readonly stores: S;
  /**
   * Writes one row of app data (an "effect") with this id inside `tx`, the way an app's handler
   * would (an `INSERT` into a table of the harness's own on SQL engines, `tx.set` on memory).
   * Ids are short strings (under 100 characters); the same id may be written more than once.
   */
  writeEffect(tx: Tx, id: string): Promise<void>;
  /** The ids of every committed effect, one entry per committed `writeEffect` call, in any order. */
  readEffects(): Promise<readonly string[]>;
  /**
   * The ids of the effects `tx` sees, read with `tx` only (no write: `tx` may be read-only), one
   * entry per `writeEffect` call, in any order. Required by the read transaction suite, which
   * commits an effect before it calls this (SQL harnesses may create their table on the first write).
   */
  readEffectsIn?(tx: Tx): Promise<readonly string[]>;
  /**
   * Opens the same storage again after the suite closed `stores`, returning the new handle.
   * Required when {@link StoreConformanceOptions.durable} is true.
   */
  reopen?(): Promise<StoreUnderTest<Tx, S>>;
  /**
   * Releases everything `create` made (connections, files, databases). Called after each test,
   * also on failure; `stores` may have been closed already. Default: `stores.close()`. After a
   * reopen the suite calls the reopened handle's cleanup, then this one.
   */
  cleanup?(): Promise<void>;
}

/** Options of {@link describeStoreConformance}. */
export interface StoreConformanceOptions<Tx, S extends Stores<Tx> = Stores<Tx>, TestName extends string = StoreConformanceTest> {
  /** Printed in the suite's title and its skip lines, e.g. `sqliteStores`. */
  readonly name: string;
  /** Fresh, empty stores for one test. */
  create(context: StoreTestContext): Promise<StoreUnderTest<Tx, S>>;
  /** Tests not to run, each with the reason printed in CI output. */
  readonly skip?: readonly SkippedTest<TestName>[];
  /** Whether committed data survives closing and reopening the stores (then `reopen` is required). Default false. */
  readonly durable?: boolean;
  /**
   * What measures claim leases and `publishedAt`: `clock` (the context's manual clock; the suite
   * advances it) or `wall` (real time, e.g. the database's `now()`; the suite then uses short
   * leases and waits for them to lapse). Default `clock`.
   */
  readonly leaseTime?: 'clock' | 'wall';
  /** Deadline of each test, in ms. Default 30 000. */
  readonly testTimeoutMs?: number;
}
