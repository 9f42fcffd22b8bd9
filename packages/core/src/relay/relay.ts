import { toError } from '../model/errorCodes.js';
import { uuidv7 } from '../model/uuid.js';
import type { Broker, OutgoingRecord } from '../ports/broker.js';
import { systemClock, type Clock } from '../ports/clock.js';
import type { Component } from '../ports/component.js';
import { createInstrumentation, type Instrumentation } from '../ports/instrumentation.js';
import { silentLogger, type Logger } from '../ports/logger.js';
import { hasOutboxSignal, type OutboxRecord, type OutboxClaims } from '../ports/stores/outbox.js';
import { backoffDelay, resolveBackoff, type BackoffOptions } from '../timing/backoff.js';
import { chaosBroker, isChaosError, type ChaosOptions } from './chaos.js';
import { settlesWithin } from '../timing/settlesWithin.js';
import { createRefusals, sendIsolating, type Sent } from './isolation.js';
import { duration, positiveInteger } from './relayOptions.js';

export interface RelayOptions {
  /** Identity used for claims; unique per running relay. Default: a fresh UUID. */
  readonly relayId?: string;
  /** Records claimed and published per round. Default 1 000. */
  readonly batchSize?: number;
  /** How long to wait before looking again when the outbox is empty (wakes early on an in-process append). Default 20. */
  readonly idleMs?: number;
  /** Claim lease. Default 10 000. */
  readonly leaseMs?: number;
  /**
   * Backoff between failed publish rounds, and between the attempts of a record the broker refused
   * for good. Default 50 ms doubling to 5 s.
   */
  readonly backoff?: BackoffOptions;
  /** Deliberate publish failures, for chaos testing. */
  readonly chaos?: ChaosOptions;
}

export interface RelayDeps {
  /** Only its claim side is used: an engine may hand the relay a view of an outbox that another thread appends to. */
  readonly outbox: OutboxClaims;
  readonly broker: Broker;
  /** When given and able to (`onAppended`), the relay wakes as soon as records are appended in this process. */
  readonly stores?: object;
  readonly clock?: Clock;
  readonly logger?: Logger;
  readonly instrumentation?: Instrumentation;
}

/** The outbox relay: moves committed outbox records to the broker. */
export interface Relay extends Component {
  /** Starts the relay loop; `signal` stops it like `close()` without draining (if already aborted, at once). */
  start(signal?: AbortSignal): Promise<void>;
  /**
   * Finishes the round in progress, then keeps publishing what is committed until the outbox is
   * empty or `deadlineMs` (default 0: no draining) has passed; what is left waits in the outbox for
   * the next relay. Resolves by the deadline: a publish still in flight then is abandoned (its
   * records stay claimed until the lease lapses, and are published again). Idempotent.
   */
  close(options?: { readonly deadlineMs?: number }): Promise<void>;
  /**
   * Runs rounds until the outbox is empty (for tests and tools), or holds only records the broker
   * refused for good and the later records of their keys (reported, see {@link createRelay}).
   * Returns how many records were published.
   */
  drain(): Promise<number>;
}

// constant abort reasons: abort() without one builds a DOMException (and its stack) every time
const WOKEN = new Error('relay woken');
const STOPPED = new Error('relay stopped');
const BACKOFF_DEFAULTS = { initialDelayMs: 50, maxDelayMs: 5000, factor: 2, jitter: 0.2 };
/** How many batches' worth of held-back records a claim asks for on top of `batchSize`, at most. */
const HELD_BACK_BATCHES = 9;

/** A round's result: how many records it published, and whether another round at once may publish more. */
interface RoundResult {
  readonly published: number;
  /** The claim was full and either published something or the next claim reaches further. */
  readonly more: boolean;
}

/**
 * Creates a relay. Each round claims a batch of unpublished records (the outbox guarantees no other
 * relay holds the same keys), publishes them in one broker call, and marks them published. A
 * retriable failure releases the claim and retries the same records after a backoff, so per-key
 * order holds; a publish that failed after the broker accepted it is simply published again, and
 * consumers' inboxes absorb the duplicates.
 *
 * A non-retriable failure (a record the broker will never take, such as one too large) is narrowed
 * down by splitting the batch: the other records are published, and each refused record stays in
 * the outbox, claimed by this relay, tried again alone after a backoff (the topic's settings may be
 * fixed meanwhile) and reported at every attempt (an error log naming it, a `relay-failed` fact).
 * The later records of its key wait behind it, and claims skip that key until the record is due
 * (`skipKeys`), so other keys go on however many records wait behind it.
 */
export function createRelay(deps: RelayDeps, options: RelayOptions = {}): Relay {
  const relayId = options.relayId ?? `relay-${uuidv7()}`;
  const batchSize = positiveInteger(options.batchSize ?? 1000, 'batchSize');
  const idleMs = duration(options.idleMs ?? 20, 'idleMs');
  const leaseMs = duration(options.leaseMs ?? 10_000, 'leaseMs');
  const backoff = resolveBackoff(options.backoff, BACKOFF_DEFAULTS);
  const clock = deps.clock ?? systemClock;
  const logger = deps.logger ?? silentLogger;
  const instrumentation = deps.instrumentation ?? createInstrumentation();
  const broker = options.chaos ? chaosBroker(deps.broker, options.chaos) : deps.broker;
  const { outbox } = deps;

  let controller: AbortController | undefined;
  let loop: Promise<void> | undefined;
  let wake: (() => void) | undefined;
  let unsubscribe: (() => void) | undefined;
  let forgetSignal: (() => void) | undefined;
  /**
   * An append was signalled since the last claim began: the claim may not have seen it, so the
   * relay looks again at once instead of sleeping `idleMs` (a wake while a round runs finds no
   * sleeper: without this, a record committed then waited out the idle time).
   */
  let appendedSinceClaim = false;
  /** Records the broker refused for good: tried again alone once their backoff has passed. */
  const refusals = createRefusals({ backoff, clock });
  /**
   * Records the last round claimed and left in the outbox (refused, or held behind a refused record
   * of their key). Claims skip the keys of refused records not due yet (`skipKeys`); in the round
   * where one is due its key is claimed again, from it, so that claim asks for that many more (up to
   * a bound) to leave room for the other keys' records.
   */
  let heldBack = 0;
  const publish = (records: readonly OutboxRecord[]) => broker.publish(records.map(toOutgoing));

  /** One round: returns how many records were published, or throws a retriable publish failure. */
  async function round(): Promise<RoundResult> {
    appendedSinceClaim = false;
    const limit = claimLimit();
    // the keys behind a refused record not due yet: claimed, they would fill the claim for nothing
    const skipKeys = refusals.heldKeys();
    const claimed = await outbox.claim(skipKeys.length > 0 ? { relayId, limit, leaseMs, skipKeys } : { relayId, limit, leaseMs });
    heldBack = 0;
    const plan = refusals.plan(claimed, new Set(skipKeys));
    if (claimed.length === 0) return { published: 0, more: false };
    const started = clock.now();
    const sent: Sent = { published: [], refused: [] };
    try {
      await sendIsolating(publish, plan, sent);
    } catch (thrown) {
      const error = toError(thrown);
      for (const refused of sent.refused) refuse(refused.record, refused.error);
      if (instrumentation.active) instrumentation.emit({ kind: 'relay-failed', count: claimed.length - sent.published.length, error });
      await settle(claimed, sent, started).catch((settleError: unknown) => logger.warn('relay: settling the claim after a failed publish failed; the claim will lapse', { error: settleError }));
      throw error;
    }
    for (const refused of sent.refused) refuse(refused.record, refused.error);
    await markPublished(sent, started);
    heldBack = claimed.length - sent.published.length;
    const published = sent.published.length;
    return { published, more: claimed.length >= limit && (published > 0 || claimLimit() > limit) };
  }

  function claimLimit(): number {
    return batchSize + Math.min(heldBack, HELD_BACK_BATCHES * batchSize);
  }

  /** After a retriable failure: marks what was published before it, and releases the rest for a retry. */
  async function settle(claimed: readonly OutboxRecord[], sent: Sent, started: number): Promise<void> {
    await markPublished(sent, started);
    const published = new Set(sent.published);
    await outbox.release(relayId, claimed.filter((r) => !published.has(r.id)).map((r) => r.id));
  }

  async function markPublished(sent: Sent, started: number): Promise<void> {
    if (sent.published.length === 0) return;
    // when all of it went out, in claim order: a store's fast path recognises exactly its claim
    await outbox.markPublished(relayId, sent.published);
    for (const id of sent.published) {
      const failed = refusals.published(id);
      if (failed !== undefined) logger.info('relay: a record refused before is published', { eventId: id, attempts: failed + 1 });
    }
    if (instrumentation.active) instrumentation.emit({ kind: 'relayed', count: sent.published.length, durationMs: clock.now() - started });
  }

  /** Records a refusal for good: the record waits (and its key behind it), reported at every attempt. */
  function refuse(record: OutboxRecord, error: Error): void {
    const { attempts, retryInMs } = refusals.refused(record);
    if (instrumentation.active) instrumentation.emit({ kind: 'relay-failed', count: 1, error });
    logger.error('relay: the broker refused a record for good; it and the later records of its key wait in the outbox, tried again alone', {
      eventId: record.id,
      topic: record.topic,
      key: record.key,
      code: (error as { code?: unknown }).code,
      error,
      attempts,
      retryInMs,
    });
  }

  async function run(signal: AbortSignal): Promise<void> {
    let failures = 0;
    while (!signal.aborted) {
      try {
        const { more } = await round();
        failures = 0;
        if (!more && !appendedSinceClaim) await idle(signal, refusals.nextRetryWithin(idleMs));
      } catch (error) {
        failures++;
        const delayMs = backoffDelay(backoff, failures);
        if (isChaosError(error)) logger.debug('relay: chaos failure, retrying', { delayMs });
        else logger.warn('relay: publish failed, retrying', { error, delayMs, failures });
        await clock.sleep(delayMs, signal).catch(() => {});
      }
    }
  }

  function idle(signal: AbortSignal, ms: number): Promise<void> {
    // stopped during the round: an abort listener added now would never fire
    if (signal.aborted) return Promise.resolve();
    const local = new AbortController();
    const stop = () => local.abort(WOKEN);
    signal.addEventListener('abort', stop, { once: true });
    wake = stop;
    return clock.sleep(ms, local.signal).catch(() => {}).finally(() => {
      wake = undefined;
      signal.removeEventListener('abort', stop);
    });
  }

  let closing: Promise<void> | undefined;

  async function drainUntil(deadline: number): Promise<void> {
    try {
      while (clock.now() < deadline) {
        const { published, more } = await round();
        if (published === 0 && !more) return;
      }
    } catch (error) {
      logger.warn('relay: draining at close failed; the rest waits in the outbox', { error });
    }
  }

  return {
    name: 'relay',
    async start(signal) {
      if (loop) return;
      controller = new AbortController();
      // already aborted: an abort listener would never fire, and the loop would run until close()
      if (signal?.aborted) {
        controller.abort(STOPPED);
        loop = Promise.resolve();
        return;
      }
      const stop = () => controller?.abort(STOPPED);
      signal?.addEventListener('abort', stop, { once: true });
      // a long-lived signal (a process's shutdown) must not keep every closed relay alive
      forgetSignal = () => signal?.removeEventListener('abort', stop);
      if (deps.stores && hasOutboxSignal(deps.stores)) {
        unsubscribe = deps.stores.onAppended(() => {
          appendedSinceClaim = true;
          wake?.();
        });
      }
      loop = run(controller.signal);
    },
    close(closeOptions = {}) {
      closing ??= (async () => {
        const deadlineMs = Math.max(0, closeOptions.deadlineMs ?? 0);
        const deadline = clock.now() + deadlineMs;
        controller?.abort(STOPPED);
        forgetSignal?.();
        unsubscribe?.();
        if (!loop) return;
        const running = loop;
        const finished = (async () => {
          await running;
          await drainUntil(deadline);
        })();
        if (!(await settlesWithin(clock, finished, deadlineMs))) {
          logger.warn('relay: close deadline passed with a publish in flight; abandoning it, its records wait in the outbox', { deadlineMs });
        }
      })();
      return closing;
    },
    async drain() {
      let total = 0;
      for (;;) {
        const { published, more } = await round();
        total += published;
        if (published === 0 && !more) return total;
      }
    },
  };
}

function toOutgoing(record: OutboxRecord): OutgoingRecord {
  return { topic: record.topic, key: record.key, value: record.value, headers: record.headers, timestamp: record.createdAt };
}
