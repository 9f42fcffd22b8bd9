import type { Static, TSchema } from '@sinclair/typebox';
import type { EventDefinition, Logger, Publish } from '@herald/core';

/** One record flowing through a stream: its key, its value and its event time. */
export interface StreamRecord<V> {
  /** The partition key (the event's key, or the key a `groupBy` gave it). */
  readonly key: string;
  readonly value: V;
  /** Event time: ms since the epoch, an integer from 0 to 8 640 000 000 000 000 (the last instant a Date holds). */
  readonly timestamp: number;
}

/**
 * What a windowed aggregation emits. Its record's key is the window's key and its timestamp the
 * window's last instant (`end - 1` for a time window, `end` for a session).
 */
export interface WindowResult<A> {
  readonly key: string;
  /** Window start, ms, inclusive. */
  readonly start: number;
  /** Window end, ms: exclusive for time windows; for sessions the last record's time, inclusive. */
  readonly end: number;
  readonly value: A;
  /**
   * `final`: the window closed; its value will never change (emit `final`, once per window).
   * `update`: the window's value after a batch of records changed it (emit `update`).
   * `merged`: a session that merged into another and no longer exists (emit `update`); the
   * merged session's update follows.
   */
  readonly kind: 'final' | 'update' | 'merged';
}

/** A record that arrived after one or more of its windows closed: what the side output gets. */
export interface LateRecord<V> {
  /** The aggregation's name. */
  readonly aggregation: string;
  readonly key: string;
  readonly value: V;
  readonly timestamp: number;
  /** The partition's stream time for the aggregation when the record arrived. */
  readonly streamTime: number;
  readonly partition: number;
  /** The windows the record was too late for (for a hopping window, possibly only some of its windows). */
  readonly windows: readonly { readonly start: number; readonly end: number }[];
}

/** What a stream's handlers (`forEach`, a late handler) get besides the record. */
export interface StreamContext<Tx> {
  /** The transaction of the batch (or of the punctuation) that produced the record. */
  readonly tx: Tx;
  /** Publishes through the outbox in `tx`. */
  readonly publish: Publish;
  readonly logger: Logger;
  /**
   * Aborted when the batch (or the punctuation) that produced the record is abandoned: at its
   * deadline (the topology's handler `timeoutMs`, else the app's), or when the app closing gives up on it. Stop
   * then: its transaction is rolled back without waiting for the handler, and what the handler
   * writes in it afterwards is refused.
   */
  readonly signal: AbortSignal;
  /** The consumer group running this part of the topology. */
  readonly group: string;
  /** The partition the record was read from (or, after a `groupBy`, the repartition topic's partition). */
  readonly partition: number;
}

/**
 * Where late records go; they are never dropped silently. `to`: published, in the batch's
 * transaction, as events of a definition (`defineLateEvent` makes one whose data is the
 * {@link LateRecord}; or give `map`). `handler`: called in the batch's transaction, one record at a
 * time (write it to a table, count it...). Within a batch, an aggregation hands its late records to
 * the side output before it emits the results of the windows that batch closes (an application
 * that keeps a window's records aside, and takes a late one back, sees it first). Either way each
 * partition counts its late records in
 * the window store (see `WindowSnapshot.partitions[].late`), and each batch that had some emits a
 * `records-late` instrumentation fact once it committed (`herald_stream_late_records_total` with
 * `@herald/metrics`; see the core's `StreamFact` for the stream's other facts).
 */
export type LateOutput<V, Tx> =
  | { readonly to: EventDefinition; readonly map?: (late: LateRecord<V>) => unknown }
  | { readonly handler: (late: LateRecord<V>, ctx: StreamContext<Tx>) => Promise<void> };

/** How and when a windowed aggregation emits. */
export type EmitMode = 'final' | 'update';

/** Options of `aggregate()`. */
export interface AggregateOptions<V, A, Tx> {
  /** A new aggregate for a new window. Called once per window: return a fresh object. */
  initial(): A;
  /** Adds a record to a window's aggregate; may change `aggregate` in place, and returns the new one. */
  add(aggregate: A, record: StreamRecord<V>): A;
  /** Combines two sessions' aggregates when a record bridges them. Required for session windows. */
  merge?(left: A, right: A): A;
  /**
   * `final` (default): one result per window, when it closes (Kafka Streams' `suppress(untilWindowCloses)`,
   * `emitStrategy(onWindowClose)`). `update`: after each batch that changed a window, its new value
   * (`onWindowUpdate`); nothing when it closes.
   */
  readonly emit?: EmitMode;
  /** Where records arriving after their window closed go. Required: late records are never dropped silently. */
  readonly late: LateOutput<V, Tx>;
}

/** Options of `count()`. */
export interface CountOptions<V, Tx> {
  readonly emit?: EmitMode;
  readonly late: LateOutput<V, Tx>;
}

/** Options of `from()`. */
export interface FromOptions<S extends TSchema> {
  /**
   * The event time of an event, ms since the epoch (an integer from 0 to 8 640 000 000 000 000, the
   * last instant a Date holds: results and late records are published with their time as
   * `occurredAt`). Default: its `occurredAt`. An event whose time is not valid is dead-lettered
   * with `invalid-event-time`.
   */
  timestamp?(event: { readonly id: string; readonly key: string; readonly occurredAt: string; readonly data: Static<S> }): number;
  /**
   * How far ahead of the app's clock an event time may be, ms (an integer >= 0); by default any
   * is taken. Stream time only moves forward: one record stamped far in the future (a producer's
   * wrong clock, microseconds taken for milliseconds) would close every open window of its
   * partition early and make every later record late, for good. An event beyond this bound, when
   * its batch is read, fails with `invalid-event-time`, so it is dead-lettered (its envelope
   * kept, for a redrive once the clock has caught up or the producer is fixed) and counted in no
   * window. Leave room for the producers' clock skew.
   */
  readonly maxFutureSkewMs?: number;
}
