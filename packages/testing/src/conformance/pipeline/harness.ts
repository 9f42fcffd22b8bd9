import type { Broker, RelayHost, Stores } from '@herald/core';
import type { SkippedTest } from '../suiteTests.js';

/** Every test of the pipeline suite, by exact title (use these names in the skip list). */
export const PIPELINE_CONFORMANCE_TESTS = [
  'handles each key’s events in order, different keys concurrently',
  'does not repeat an effect when the offset commit is lost',
  'drains in-flight handlers and commits on close',
  'rolls back an attempt at its timeout while its handler still runs',
  'closes by its deadline past a handler that never returns, leaving the event to the next app',
  'dead-letters poison events with their reason while other keys flow',
  'dead-letters foreign events holding text no store keeps, storably, and handles the next',
  'parks a key behind its dead letter until redrive',
  'applies a redriven event once, however often it is redriven',
  'runs user policies from the edited preset, with the delivery state and the transaction',
  'hands a batch handler its events together, isolating a poison event',
  'rolls back a batch at its timeout while its handler still runs',
  'applies an event appended twice once, even when both copies meet in one batch',
  'publishes directly to the log, without the outbox',
  'reads earlier versions of an event through its upcast, dead-letters one it cannot read',
] as const;

/** The title of one pipeline suite test: what a skip list names. */
export type PipelineConformanceTest = (typeof PIPELINE_CONFORMANCE_TESTS)[number];

/**
 * One fresh broker + stores pair for one pipeline test. The suite builds real apps on it with
 * `createApp` (two in a row where a test restarts one), so it wraps both so that `app.close()`
 * closes neither; `cleanup` closes them at the end.
 */
export interface PipelineUnderTest<Tx> {
  readonly broker: Broker;
  readonly stores: Stores<Tx>;
  /** Where the apps run their relay, when the engine runs it off the app's event loop (`AppOptions.relayHost`). */
  readonly relayHost?: RelayHost;
  /** Writes one row of app data with this id inside `tx` (as in the store suite's harness). */
  writeEffect(tx: Tx, id: string): Promise<void>;
  /** The ids of every committed effect, one entry per committed `writeEffect` call, in any order. */
  readEffects(): Promise<readonly string[]>;
  /** Releases everything `create` made. Default: closes `broker`, then `stores`. */
  cleanup?(): Promise<void>;
}

/** Options of {@link describePipelineConformance}. */
export interface PipelineConformanceOptions<Tx> {
  /** Printed in the suite's title and its skip lines, e.g. `sqlite engine`. */
  readonly name: string;
  /** A fresh, empty broker + stores pair for one test. */
  create(): Promise<PipelineUnderTest<Tx>>;
  /** Tests not to run, each with the reason printed in CI output. */
  readonly skip?: readonly SkippedTest<PipelineConformanceTest>[];
  /**
   * Partitions of the topic each test uses, provisioned through the app's `topics` option (so
   * with `ensureTopics` where the broker has it; otherwise the broker must create topics with this
   * many partitions on first use). Default 4.
   */
  readonly partitions?: number;
  /** Deadline of each wait for the pipeline, in ms. Default 15 000. */
  readonly waitMs?: number;
  /** Deadline of each test, in ms. Default `4 * waitMs`. */
  readonly testTimeoutMs?: number;
}
