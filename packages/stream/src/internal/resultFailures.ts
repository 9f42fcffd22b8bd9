import {
  createDeliveryState,
  createHandlerContext,
  deadLetter,
  decodeEnvelope,
  encodeEnvelope,
  RETRY_DEFAULTS,
  uuidv7,
  type RetryOptions,
  type Clock,
  type Envelope,
  type Instrumentation,
  type DeadLetterStore,
  type Logger,
} from '@herald/core';
import type { WindowResult } from '../types.js';
import type { AggregateNode } from './graph.js';
import { createResultHangs } from './resultHangs.js';

/**
 * What a window's result that could not be emitted for good (its downstream, a result mapper, a
 * sink whose schema refuses the event, a `forEach`, failed with a non-retriable error, or with a
 * retriable one on the last attempt) becomes: a dead letter, so that its partition goes on.
 */
export interface ResultFailures {
  /** Whether a retriable failure is dead-lettered now: the batch's (or punctuation's) retries are used up. */
  readonly lastAttempt: boolean;
  /** Records the result's dead letter; resolves once it is stored. */
  record(failure: FailedResult): Promise<void>;
  /**
   * The attempt's deadline passed while this result was being emitted (its run is rolled back):
   * once that happened on `maxAttempts` attempts in a row, the result is dead-lettered (`timeout`).
   */
  timedOut(failure: FailedResult): void;
  /** Before a result is emitted: the writing of its letter when it was dead-lettered for hanging (the run then passes over it), else undefined. */
  hung(node: AggregateNode, result: WindowResult<unknown>): Promise<void> | undefined;
  /** The result was emitted. */
  emitted(node: AggregateNode, result: WindowResult<unknown>): void;
}

/** A result whose emission failed, as the run knows it. */
export interface FailedResult {
  readonly node: AggregateNode;
  readonly result: WindowResult<unknown>;
  /** The result's event time (its window's last instant). */
  readonly timestamp: number;
  readonly error: unknown;
}

/** Where the run that failed to emit it was. */
export interface ResultRun {
  readonly group: string;
  /** A topic the run read (a punctuation's first, when its aggregations read several): its letters' topic, so a redrive through the log reaches the group. */
  readonly topic: string;
  readonly partition: number;
  /** The run's attempt number. */
  readonly attempts: number;
  readonly lastAttempt: boolean;
  /** Aborted when the run's attempt is over: the failure is then not dead-lettered, the run is tried again. */
  readonly signal: AbortSignal;
  readonly logger: Logger;
}

type ResultFailure = FailedResult & ResultRun;

/** What every window-result letter's event type starts with (then its group). */
export const RESULT_LETTER_TYPE_PREFIX = 'herald.stream.WindowResult.';

/**
 * The event type of a group's window-result dead letters; their data is {@link ResultLetterData}.
 * One type per group: the group's batch handler is registered for it (see `resultRedrive.ts`), and
 * an app's event registry keeps one topic per type, while two groups may read different topics.
 */
export const resultLetterType = (group: string): string => `${RESULT_LETTER_TYPE_PREFIX}${group}`;

/** What a window result's dead letter holds as its envelope's data: the window, its value and where it was. */
export interface ResultLetterData {
  readonly aggregation: string;
  readonly store: string;
  readonly key: string;
  readonly start: number;
  readonly end: number;
  readonly kind: WindowResult<unknown>['kind'];
  readonly value: unknown;
}

/**
 * The handler name of a group's stream: its batch handler's, and so its window-result dead
 * letters' (a redrive runs a letter through the handler of its event type: this one).
 */
export const streamHandler = (group: string): string => `${group}:stream`;

/**
 * Dead-letters failed window results through the core's own `deadLetter` policy (so a letter has
 * what every letter has: reason from the error's code, fingerprint, redacted error and its cause
 * chain, a `dead-lettered` fact). A window result has no record of its own: the letter's offset is
 * -1, its handler the group's stream handler, its envelope a `herald.stream.WindowResult.<group>`
 * event holding the window (aggregation, key, bounds, kind, value), on a topic the group reads; a
 * redrive (in process, or through the log) emits the result again downstream (see `resultRedrive.ts`).
 *
 * The letter is written in a transaction of its own, before the run's commits (a failure turned into
 * success is first recorded); a run that rolls back after it closes the window again, and a final
 * result already lettered for that window is not lettered twice.
 *
 * A result whose downstream hangs (ignoring its signal) is bounded by its run's deadline, the
 * handler `timeoutMs`: an attempt that reaches it while emitting the result is a retriable
 * `timeout`, and after `maxAttempts` such attempts in a row the result is dead-lettered (reason
 * `timeout`) and the next run passes over it (see `resultHangs.ts`); else it would close its
 * window again at every later record, each then dead-lettered, or fail every punctuation.
 */
export function resultFailureRecorder(deps: { store: DeadLetterStore; clock: Clock; instrumentation: Instrumentation; maxAttempts: number }): (run: ResultRun) => ResultFailures {
  const policy = deadLetter({ ...deps, policy: 'skip' });
  const hangs = createResultHangs();
  return (run) => {
    const at = (node: AggregateNode, result: WindowResult<unknown>) => ({ group: run.group, partition: run.partition, node, result });
    return {
      lastAttempt: run.lastAttempt,
      record: (failed) => recordResultFailure({ ...run, ...failed }),
      timedOut(failed) {
        const attempts = hangs.timedOut(at(failed.node, failed.result));
        if (attempts < deps.maxAttempts) return;
        // its attempt is over (aborted), the letter is not: written with a signal of its own
        const stored = recordResultFailure({ ...run, ...failed, attempts, signal: new AbortController().signal });
        hangs.lettering(at(failed.node, failed.result), stored);
        stored.catch((error: unknown) => run.logger.warn('a hung window result could not be dead-lettered; it is emitted again', { error, key: failed.result.key }));
      },
      hung: (node, result) => hangs.letter(at(node, result)),
      emitted: (node, result) => hangs.emitted(at(node, result)),
    };
  };

  async function recordResultFailure(failure: ResultFailure): Promise<void> {
    const { node, result, group, partition } = failure;
    const handler = streamHandler(group);
    if (result.kind === 'final' && (await lettered(deps.store, failure))) return;
    const data: ResultLetterData = { aggregation: node.name, store: node.store, key: result.key, start: result.start, end: result.end, kind: result.kind, value: result.value };
    const envelope: Envelope<ResultLetterData> = {
      id: uuidv7(deps.clock.now()),
      type: resultLetterType(group),
      version: 1,
      topic: failure.topic,
      key: result.key,
      correlationId: uuidv7(deps.clock.now()),
      causationId: null,
      occurredAt: new Date(failure.timestamp).toISOString(),
      headers: {},
      data,
    };
    const delivery = { topic: failure.topic, partition, offset: -1, key: result.key, value: encodeEnvelope(envelope), headers: {}, timestamp: deps.clock.now() };
    const state = createDeliveryState(failure.signal);
    state.attemptStarted(failure.attempts);
    const ctx = createHandlerContext({ group, handler, delivery, logger: failure.logger, state });
    const error = failure.error;
    await policy(async function emitWindowResult() {
      throw error;
    })(envelope, ctx);
  }
}

/** Whether this final result (aggregation, partition, key, window) already has a letter: one of an earlier run that rolled back. */
async function lettered(store: DeadLetterStore, failure: ResultFailure): Promise<boolean> {
  const letters = await store.list({ group: failure.group, handler: streamHandler(failure.group), key: failure.result.key });
  return letters.some((letter) => {
    if (letter.partition !== failure.partition || letter.eventType !== resultLetterType(failure.group)) return false;
    const data = decodeEnvelope(letter.envelope, letter.headers).data as Partial<ResultLetterData>;
    return data.store === failure.node.store && data.kind === 'final' && data.start === failure.result.start;
  });
}

/** The attempts a stream's batches and punctuations get: the topology's retry, else the app's, else Herald's. */
export function maxAttemptsOf(retry: { topology: RetryOptions | undefined; app: RetryOptions | undefined }): number {
  return retry.topology?.maxAttempts ?? retry.app?.maxAttempts ?? RETRY_DEFAULTS.maxAttempts;
}
