import { describeStoreSuite, type StorePlanEntry } from './abilitySuite.js';
import type { StoreConformanceOptions } from './harness.js';
import { countsPastAnOpenTransaction, countsPerTopic, dropsPublished, ignoresRolledBack, type BacklogStores } from './outboxBacklogTests.js';

/** Every test of the outbox backlog suite, by exact title. */
export const OUTBOX_BACKLOG_CONFORMANCE_TESTS = [
  'counts pending records per topic, in topic order, with the oldest append time',
  'keeps claimed and released records in the backlog, and drops published ones',
  'never counts records of rolled-back or open transactions',
  'counts a record whose transaction commits after a later one was published until it is published',
] as const;

export type OutboxBacklogConformanceTest = (typeof OUTBOX_BACKLOG_CONFORMANCE_TESTS)[number];

/**
 * Declares the conformance suite of the outbox backlog ability (`hasOutboxBacklog(stores.outbox)`):
 * per topic with committed, unpublished records, in topic order, how many there are and when the
 * oldest was appended; claims and releases change nothing, publication takes records out, and
 * records of rolled-back or still open transactions never count; a record whose transaction commits
 * after a later record was published counts until it is published itself. Same harness as
 * `describeStoreConformance`.
 */
export function describeOutboxBacklogConformance<Tx, S extends BacklogStores<Tx>>(options: StoreConformanceOptions<Tx, S, OutboxBacklogConformanceTest>): void {
  const plan: readonly StorePlanEntry<Tx, S, OutboxBacklogConformanceTest>[] = [
    ['counts pending records per topic, in topic order, with the oldest append time', countsPerTopic, []],
    ['keeps claimed and released records in the backlog, and drops published ones', dropsPublished, []],
    ['never counts records of rolled-back or open transactions', ignoresRolledBack, []],
    ['counts a record whose transaction commits after a later one was published until it is published', countsPastAnOpenTransaction, []],
  ];
  describeStoreSuite('Outbox backlog conformance', OUTBOX_BACKLOG_CONFORMANCE_TESTS, plan, options);
}
