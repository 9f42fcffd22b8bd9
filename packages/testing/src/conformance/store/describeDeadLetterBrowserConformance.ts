import { describeStoreSuite, type StorePlanEntry } from './abilitySuite.js';
import { discards, filtersAndCounts, groupsFailures, pagesByDefaultSize, pagesWithCursor, persistsDiscards, refusesBadRequests, type BrowsableStores } from './deadLetterBrowserTests.js';
import type { StoreConformanceOptions } from './harness.js';

/** Every test of the dead letter browser suite, by exact title. */
export const DEAD_LETTER_BROWSER_CONFORMANCE_TESTS = [
  'pages letters in the order they were added, letters added between pages coming last',
  'pages 100 letters by default and up to 1000 at once',
  'filters pages and counts by every query field',
  'groups letters by handler, fingerprint and reason, largest first, the latest as sample',
  'discards dead and parked letters only, and counts what changed',
  'refuses foreign cursors, limits outside 1 to 1000 and malformed queries',
  'keeps discarded letters discarded across reopen',
] as const;

export type DeadLetterBrowserConformanceTest = (typeof DEAD_LETTER_BROWSER_CONFORMANCE_TESTS)[number];

/**
 * Declares the conformance suite of the dead letter browser ability
 * (`canBrowseDeadLetters(stores.deadLetters)`): cursor paging in the order letters were added
 * (letters added while paging come last, never shifting a page), every query field for pages and
 * counts, groups by handler, fingerprint and reason in the port's order with their sample,
 * `discard` touching only dead and parked letters, `invalid-options` for bad cursors, limits and
 * queries, and with `durable` discards that survive a reopen. Same harness as `describeStoreConformance`.
 */
export function describeDeadLetterBrowserConformance<Tx, S extends BrowsableStores<Tx>>(options: StoreConformanceOptions<Tx, S, DeadLetterBrowserConformanceTest>): void {
  const plan: readonly StorePlanEntry<Tx, S, DeadLetterBrowserConformanceTest>[] = [
    ['pages letters in the order they were added, letters added between pages coming last', pagesWithCursor, []],
    ['pages 100 letters by default and up to 1000 at once', pagesByDefaultSize, []],
    ['filters pages and counts by every query field', filtersAndCounts, []],
    ['groups letters by handler, fingerprint and reason, largest first, the latest as sample', groupsFailures, []],
    ['discards dead and parked letters only, and counts what changed', discards, []],
    ['refuses foreign cursors, limits outside 1 to 1000 and malformed queries', refusesBadRequests, []],
    ['keeps discarded letters discarded across reopen', persistsDiscards, ['durable']],
  ];
  describeStoreSuite('Dead letter browser conformance', DEAD_LETTER_BROWSER_CONFORMANCE_TESTS, plan, options);
}
