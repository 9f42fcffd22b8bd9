import type { TopicPartition } from './broker.js';

/**
 * How a delivery ended. `applied`: the handler's transaction committed. `duplicate`: the inbox
 * already had it. `ignored`: nothing in this group handles its type (or it is a redrive addressed
 * to another group); the consumer skips such a delivery without a `handled` fact, so counts by
 * outcome never show it (a group reading a topic of many types would emit one per record).
 * `dead-lettered`: it failed for good and was stored as a dead letter. `parked`: held back behind a
 * dead letter of its key.
 */
export type DeliveryOutcome = 'applied' | 'duplicate' | 'ignored' | 'dead-lettered' | 'parked';

/**
 * Typed instrumentation: the core emits these facts; the metrics and tracing packages subscribe.
 * Emitting costs nothing when nobody listens.
 */
export type InstrumentationEvent =
  | { readonly kind: 'published'; readonly topic: string; readonly eventType: string; readonly count: number }
  | { readonly kind: 'relayed'; readonly count: number; readonly durationMs: number }
  | { readonly kind: 'relay-failed'; readonly count: number; readonly error: Error }
  | {
      /** One delivery finished (after its retries): emitted after its transaction committed, if it had one. */
      readonly kind: 'handled';
      readonly group: string;
      readonly handler: string;
      readonly eventId: string;
      readonly eventType: string;
      readonly topic: string;
      readonly partition: number;
      readonly offset: number;
      readonly outcome: DeliveryOutcome;
      readonly attempts: number;
      readonly durationMs: number;
      /** Time from the event's `occurredAt` to the end of handling (the "critical time"). */
      readonly latencyMs: number;
    }
  | {
      readonly kind: 'retried';
      readonly group: string;
      readonly handler: string;
      readonly eventType: string;
      readonly attempt: number;
      readonly delayMs: number;
      readonly error: Error;
    }
  | {
      readonly kind: 'dead-lettered';
      readonly group: string;
      readonly handler: string;
      readonly topic: string;
      readonly reason: string;
      readonly status: 'dead' | 'parked';
    }
  | { readonly kind: 'redriven'; readonly group: string; readonly handler: string; readonly count: number }
  | {
      /** A rebalance (or the first join) gave partitions to this member of `group`. */
      readonly kind: 'assigned';
      readonly group: string;
      readonly partitions: readonly TopicPartition[];
    }
  | {
      /** Partitions taken from this member of `group`, after its work on them finished and was committed. */
      readonly kind: 'revoked';
      readonly group: string;
      readonly partitions: readonly TopicPartition[];
    }
  | {
      /**
       * Retention deleted records `[from, to)` of a partition before `group` read them (offset out
       * of range): `count` records were never delivered to it. Emitted once per gap, whatever the
       * group's `onOffsetOutOfRange` policy (`resumed` tells which applied).
       */
      readonly kind: 'records-skipped';
      readonly group: string;
      readonly topic: string;
      readonly partition: number;
      readonly from: number;
      readonly to: number;
      readonly count: number;
      /** True when the group read on from `to`; false when it stopped (policy `stop`). */
      readonly resumed: boolean;
    }
  | {
      /**
       * An event of an earlier version of its type was read as its handler's version (the
       * definition's upcast) in `group`: how many events of each old version still arrive, so a
       * rollout shows when an upcast can be retired.
       */
      readonly kind: 'upcast';
      readonly group: string;
      readonly eventType: string;
      readonly fromVersion: number;
      readonly toVersion: number;
    }
  | {
      /**
       * The broker holds a partition of `group` before records it cannot read (a record batch no
       * codec could decompress, on Kafka): nothing from `offset` on is delivered or committed until
       * the partition moves or the service restarts. `reason` is the error's code.
       */
      readonly kind: 'partition-held';
      readonly group: string;
      readonly topic: string;
      readonly partition: number;
      readonly offset: number;
      readonly reason: string;
    }
  | {
      /**
       * A reply reached the requester instance that asked, but no caller waits for it: its request
       * timed out or was cancelled (`late`), it was already answered (`duplicate`, a redelivered
       * reply), or the instance has no record of it (`unknown`). The reply is dropped, never handed
       * to another caller.
       */
      readonly kind: 'reply-dropped';
      /** The requester instance's id. */
      readonly requester: string;
      readonly topic: string;
      readonly replyType: string;
      readonly reason: 'late' | 'duplicate' | 'unknown';
    }
  | {
      /**
       * A replier of `@herald/reply` skipped a request it read past the request's deadline (plus its
       * `clockSkewAllowanceMs`): its requester had stopped waiting, so nothing was answered. Emitted
       * once the skip's transaction committed (`ctx.emitAfterCommit`): once per request, as a
       * redelivery is a duplicate for the inbox.
       */
      readonly kind: 'request-expired';
      /** The replier's consumer group. */
      readonly group: string;
      readonly topic: string;
      readonly requestType: string;
      /** The requester instance's id (`herald-reply-to`). */
      readonly requester: string;
      /** How far past its deadline, by the replier's clock, the replier read it. */
      readonly lateByMs: number;
    }
  | {
      /** The timer scheduler moved `count` due timers into the outbox (each also counts in `published`). */
      readonly kind: 'timers-fired';
      readonly count: number;
    }
  | {
      /**
       * A saga instance moved (emitted by the saga runtime once the transaction holding the change
       * committed): it started, a step completed or passed its deadline, compensations were sent,
       * or it ended.
       */
      readonly kind: 'saga';
      readonly saga: string;
      readonly transition: SagaTransitionKind;
      /** The step, for `step-completed` and `step-timed-out`. */
      readonly step?: string;
      /** For `completed` and `failed`: from the saga's start to its end. */
      readonly durationMs?: number;
    }
  | {
      readonly kind: 'lag';
      readonly group: string;
      readonly topic: string;
      readonly partition: number;
      /** Records between the committed offset and the partition's end. */
      readonly lag: number;
    }
  | StreamFact;

/**
 * What a windowed aggregation of `@herald/stream` did, emitted by the stream package once per
 * batch (or punctuation) and aggregation, never per record, and only after the transaction that
 * holds it committed: a batch rolled back and tried again is counted once, as its records are.
 * `group` is the consumer group running that part of the topology; `aggregation` the name given
 * to `aggregate()` / `count()` (its window state is `<topology>.<aggregation>`). A group and an
 * aggregation name identify one aggregation in an app.
 */
export type StreamFact =
  | {
      /**
       * `count` records arrived for windows already closed (past grace) at the partition's stream
       * time, and went to the aggregation's side output. `topic` is the topic the batch read (a
       * repartition topic after a `groupBy`); for an idle partition's punctuation (whose records
       * are an upstream aggregation's results) the topics it punctuated, joined by `+`.
       */
      readonly kind: 'records-late';
      readonly group: string;
      readonly aggregation: string;
      readonly topic: string;
      readonly partition: number;
      readonly count: number;
    }
  | {
      /** The aggregation emitted `count` results: windows closed (emit `final`), or windows updated and sessions merged away (emit `update`). */
      readonly kind: 'window-results';
      readonly group: string;
      readonly aggregation: string;
      readonly partition: number;
      readonly count: number;
    }
  | {
      /**
       * The partition's stream time for the aggregation (ms since the epoch) once a batch or a
       * punctuation that changed its state committed: how far event time has got there. Windows
       * close only as it moves; a stream time far behind the wall clock means old records, a
       * partition left idle with idle punctuation off, or a punctuation that keeps failing.
       */
      readonly kind: 'stream-time';
      readonly group: string;
      readonly aggregation: string;
      readonly partition: number;
      readonly streamTime: number;
    }
  | {
      /**
       * The idle punctuator failed to move an idle partition's stream time on (it tries again at
       * its next tick; while it fails, the partition's windows stay open and nothing is emitted for
       * them): a window result's emission failing with a retriable error before its last attempt
       * (then the result is dead-lettered and the punctuation goes on), a store error, its
       * deadline. `reason` is the error's code (`handler-failed` for an error without one).
       * `partition` is absent when the tick failed before reaching a partition (reading when the
       * group's partitions last had a record).
       */
      readonly kind: 'punctuation-failed';
      readonly group: string;
      readonly partition?: number;
      readonly reason: string;
      readonly error: Error;
    };

/**
 * How a saga instance moved (see the `saga` instrumentation fact). `start-timed-out`: an instance
 * that kept events of a flow whose starting event never came ended unstarted (`@herald/saga`'s
 * `awaitStartMs`).
 */
export type SagaTransitionKind = 'started' | 'step-completed' | 'step-timed-out' | 'compensating' | 'completed' | 'failed' | 'start-timed-out';

export type InstrumentationListener = (event: InstrumentationEvent) => void;

export interface Instrumentation {
  /** Subscribes; returns the unsubscribe function. A throwing listener never breaks the pipeline. */
  on(listener: InstrumentationListener): () => void;
  emit(event: InstrumentationEvent): void;
  /** Whether anyone listens (skip building events when nobody does). */
  readonly active: boolean;
}

export function createInstrumentation(): Instrumentation {
  let listeners: InstrumentationListener[] = [];
  return {
    on(listener) {
      listeners = [...listeners, listener];
      return () => {
        listeners = listeners.filter((l) => l !== listener);
      };
    },
    emit(event) {
      for (const listener of listeners) {
        try {
          listener(event);
        } catch {
          // observability must never break delivery
        }
      }
    },
    get active() {
      return listeners.length > 0;
    },
  };
}
