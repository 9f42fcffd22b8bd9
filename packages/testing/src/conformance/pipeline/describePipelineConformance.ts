import { describe } from 'vitest';
import { suiteTests } from '../suiteTests.js';
import { deadLettersPoison, parksKeyUntilRedrive, redrivesOnce } from './deadLetterTests.js';
import { withPipeline, type PipelineFixture } from './fixture.js';
import { deadLettersUnstorableText } from './foreignTextTests.js';
import { abandonsTimedOutAttempts, closesPastHungHandlers, drainsOnClose, handlesInKeyOrder, survivesLostCommits } from './flowTests.js';
import { runsUserPolicies } from './policyTests.js';
import { abandonsTimedOutBatches, appliesRepeatedAppendOnce, handlesBatches } from './batchTests.js';
import { publishesDirectly } from './directTests.js';
import { readsEarlierVersions } from './versionTests.js';
import { PIPELINE_CONFORMANCE_TESTS, type PipelineConformanceOptions, type PipelineConformanceTest } from './harness.js';

type PipelineTest = <Tx>(f: PipelineFixture<Tx>) => Promise<void>;

const PLAN: readonly [PipelineConformanceTest, PipelineTest][] = [
  ['handles each key’s events in order, different keys concurrently', handlesInKeyOrder],
  ['does not repeat an effect when the offset commit is lost', survivesLostCommits],
  ['drains in-flight handlers and commits on close', drainsOnClose],
  ['rolls back an attempt at its timeout while its handler still runs', abandonsTimedOutAttempts],
  ['closes by its deadline past a handler that never returns, leaving the event to the next app', closesPastHungHandlers],
  ['dead-letters poison events with their reason while other keys flow', deadLettersPoison],
  ['dead-letters foreign events holding text no store keeps, storably, and handles the next', deadLettersUnstorableText],
  ['parks a key behind its dead letter until redrive', parksKeyUntilRedrive],
  ['applies a redriven event once, however often it is redriven', redrivesOnce],
  ['runs user policies from the edited preset, with the delivery state and the transaction', runsUserPolicies],
  ['hands a batch handler its events together, isolating a poison event', handlesBatches],
  ['rolls back a batch at its timeout while its handler still runs', abandonsTimedOutBatches],
  ['applies an event appended twice once, even when both copies meet in one batch', appliesRepeatedAppendOnce],
  ['publishes directly to the log, without the outbox', publishesDirectly],
  ['reads earlier versions of an event through its upcast, dead-letters one it cannot read', readsEarlierVersions],
];

/**
 * Declares (as a vitest `describe` block) the end-to-end conformance suite of one engine: real
 * apps from `createApp` over the harness's broker and stores (outbox, relay, broker, consumer
 * runtime, inbox, dead letters, redrive). It proves per-key order under concurrency, effects
 * applied once when offset commits are lost, draining on close, a timed-out attempt rolled back while its handler runs on, poison events dead-lettered while
 * other keys flow (foreign ones holding text no store keeps among them, their letters stored), park-key until redrive, idempotent redrive, an event appended twice applied once (both copies in one batch), direct publishing (durable on return,
 * no outbox), and that policies a user adds to
 * the pipeline preset see what the built-in ones see, with no access to core internals. Skipped tests are registered
 * with `it.skip` (the reason in their title) and printed as `SKIP <suite> › <test>: <reason>`.
 *
 * @example
 * describePipelineConformance<MemoryTx>({
 *   name: 'memory engine',
 *   create: async () => {
 *     const stores = memoryStores();
 *     return {
 *       broker: memoryBroker(),
 *       stores,
 *       writeEffect: async (tx, id) => tx.set(`effects/${uuidv7()}`, id),
 *       readEffects: () => stores.transaction(async (tx) => tx.keys('effects/').map((k) => tx.get<string>(k)!)),
 *     };
 *   },
 * });
 */
export function describePipelineConformance<Tx>(options: PipelineConformanceOptions<Tx>): void {
  const suite = `Pipeline conformance: ${options.name}`;
  describe(suite, () => {
    const tests = suiteTests({
      suite,
      names: PIPELINE_CONFORMANCE_TESTS,
      skip: options.skip,
      timeoutMs: options.testTimeoutMs ?? 4 * (options.waitMs ?? 15_000),
    });
    for (const [name, run] of PLAN) tests.test(name, () => withPipeline(options, run));
  });
}
