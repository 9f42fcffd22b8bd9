import type { Static, TSchema } from '@sinclair/typebox';
import type { Envelope } from '../model/envelope.js';
import type { EventDefinition } from '../model/events.js';
import type { Broker, StartPosition, TopicSpec } from '../ports/broker.js';
import type { Clock } from '../ports/clock.js';
import type { Component } from '../ports/component.js';
import type { Instrumentation } from '../ports/instrumentation.js';
import type { Logger } from '../ports/logger.js';
import type { DeadLetter, DeadLetterFilter, DeadLetterPolicy } from '../ports/stores/deadLetters.js';
import type { Stores } from '../ports/stores/stores.js';
import type { BatchHandler, Handler, Middleware, Publish } from '../pipeline/handler.js';
import type { RetryOptions } from '../pipeline/policies/retry.js';
import type { Pipeline } from '../pipeline/preset.js';
import type { RelayOptions } from '../relay/relay.js';
import type { RelayHost } from '../relay/relayHost.js';
import type { TimerSchedulerOptions } from '../timers/scheduler.js';
import type { OffsetOutOfRangePolicy } from '../runtime/groupConsumer.js';
import type { RedriveOptions, RedriveResult } from '../runtime/redrive.js';

/** Per-handler policy settings; app-wide defaults come from {@link AppOptions.handlerDefaults}. */
export interface HandlerPolicy<Tx = unknown> {
  readonly retry?: RetryOptions;
  /** Per-attempt deadline. Default 30 000. */
  readonly timeoutMs?: number;
  /** Default `skip`. */
  readonly deadLetter?: DeadLetterPolicy;
  /** Extra middleware, inserted just outside the `transaction` step, first listed outermost. */
  readonly middleware?: readonly Middleware<Tx>[];
}

export interface HandlerOptions<Tx = unknown> extends HandlerPolicy<Tx> {
  /** Consumer group: each group sees every event of its topics once. */
  readonly group: string;
  /** Defaults to `group:EventType`. */
  readonly name?: string;
  /** Edits this handler's pipeline, after the app's and the group's edits. */
  pipeline?(pipeline: Pipeline<Tx>): Pipeline<Tx>;
}

/** Settings of one consumer group's runtime. */
export interface GroupOptions<Tx = unknown> {
  /** Keys of one partition processed at the same time. Default 16. */
  readonly concurrency?: number;
  /**
   * Deliveries held (queued or running) per group before fetching pauses, and records a partition
   * reads past its commit position (past a key stuck at its head) before it pauses. Default 2 000.
   */
  readonly maxInFlight?: number;
  /** How often completed offsets are committed. Default 200 ms (and on close and revoke). */
  readonly commitIntervalMs?: number;
  /** Where a new group starts. Default `earliest`. */
  readonly start?: StartPosition;
  /**
   * When retention deleted records the group had not read yet (its position fell below a
   * partition's first retained offset), either way the gap is logged as an `offset-out-of-range`
   * error naming the partition and the offsets, and emitted as a `records-skipped` fact.
   * `earliest` (default): read on from the first retained record. `stop`: the group stops (closes
   * its subscription, commits nothing past the gap) until an operator decides, for instance with
   * `herald replay <group> --to earliest`.
   */
  readonly onOffsetOutOfRange?: OffsetOutOfRangePolicy;
  /**
   * Up to this many handler transactions started at the same moment (different keys) share one
   * store transaction and commit together: one BEGIN/COMMIT (and one fsync) per batch instead of
   * per event, which on PostgreSQL cuts the database's CPU per event by about a quarter. The
   * handlers still run concurrently. The price: when one of them fails, the batch rolls back, that
   * one fails alone and the others RUN AGAIN in a new transaction — their transactional effects
   * still happen once, but anything else they do (an HTTP call, a log line) happens again, as after
   * a redelivery. Default 1 (off). The embedded engine already commits concurrent transactions
   * together, so it gains nothing from this.
   */
  readonly transactionBatch?: number;
  /** Edits the pipeline of every handler of this group, after the app's edit. */
  pipeline?(pipeline: Pipeline<Tx>): Pipeline<Tx>;
  /** For a group of batch handlers: most events handed to one call. Default 500. */
  readonly maxBatch?: number;
}

/**
 * What one consumer group of an app reads, as its handlers' registration says: the same topics and
 * start position its consumer subscribes with when it runs.
 */
export interface GroupSubscription {
  readonly group: string;
  /** The topics of the events its handlers take, each once, in the order they were registered. */
  readonly topics: readonly string[];
  /** Where it starts on a partition it never committed on (`AppOptions.groups[group].start`, default `earliest`). */
  readonly start: StartPosition;
}

export interface AppOptions<Tx> {
  /** Service name, used in logs and as the default relay id prefix. */
  readonly name?: string;
  readonly broker: Broker;
  readonly stores: Stores<Tx>;
  /** Event types this app reads or writes (handlers' definitions are added automatically). */
  readonly events?: readonly EventDefinition[];
  /** Topics to provision at start where the broker can (partitions, retention). */
  readonly topics?: readonly TopicSpec[];
  readonly clock?: Clock;
  /** Default: `jsonLogger()`, at the level `HERALD_LOG_LEVEL` names (else `info`; another value throws `invalid-options`). */
  readonly logger?: Logger;
  /** Largest serialised event accepted at publish. Default 1 MiB. */
  readonly maxEventBytes?: number;
  readonly handlerDefaults?: HandlerPolicy<Tx>;
  readonly groups?: Readonly<Record<string, GroupOptions<Tx>>>;
  /** Edits the pipeline of every handler (see `defaultPipeline`). */
  pipeline?(pipeline: Pipeline<Tx>): Pipeline<Tx>;
  /**
   * The outbox relay's options, or `false` for an app that never runs one (a consumer whose
   * handlers publish nothing, or a service whose relay runs elsewhere). Default: a relay runs.
   */
  readonly relay?: RelayOptions | false;
  /** Where the relay runs when not on this event loop (an engine's ability; see `RelayHost`). */
  readonly relayHost?: RelayHost;
  /**
   * The timer scheduler's options, or `false` for an app that never runs one. When the stores have
   * timers (`hasTimers`), a scheduler runs by default: it moves timers scheduled with
   * `publish.schedule` into the outbox once due. Several processes may run one each.
   */
  readonly timers?: TimerSchedulerOptions | false;
  /**
   * Up to this many {@link App.transaction} (and {@link App.publish}) calls made at the same moment
   * share one store transaction: their works run ONE AFTER ANOTHER in it, each seeing the writes of
   * those before, and commit together — one BEGIN/COMMIT and one fsync per batch instead of per
   * call. Each call still commits or fails on its own: when a work throws, the batch rolls back,
   * that call fails alone and the others RUN AGAIN in a new transaction, so anything a work does
   * outside the database may happen twice. Locks are per transaction: a work of the batch that
   * waits for a row another open transaction holds delays the whole batch. Default 1 (off); the
   * embedded engine already commits concurrent transactions together and gains nothing from it.
   */
  readonly transactionBatch?: number;
  /** Deadline of `close()` when it is given none. Default 10 000. */
  readonly closeDeadlineMs?: number;
}

export interface StartOptions {
  /** Which consumer groups to run: all registered (default), none, or the listed ones. */
  readonly groups?: boolean | readonly string[];
  /** Whether to run the outbox relay in this process. Default true (unless `AppOptions.relay` is false). */
  readonly relay?: boolean;
  /** Whether to run the timer scheduler in this process. Default true (when the stores have timers and `AppOptions.timers` is not false). */
  readonly timers?: boolean;
  /** Stops the app (as `close()`) when aborted, during the start too; already aborted, the start starts nothing. */
  readonly signal?: AbortSignal;
  /** Close gracefully on SIGTERM and SIGINT (see `closeOnSignals`). Default false. */
  readonly handleSignals?: boolean;
}

/** Work run by {@link App.transaction}: writes through `tx`, events through `publish`. */
export type TransactionWork<Tx, T> = (tx: Tx, publish: Publish) => Promise<T>;

/**
 * A Herald application: event definitions, handlers and long-lived components (the relay, one per
 * consumer group, and any added with {@link App.use}) over one engine.
 *
 * Lifecycle: `start()` provisions topics, then starts the relay, the timer scheduler (when the
 * stores have timers), the consumer groups and the added components, in that order. `close()`
 * closes them in the reverse order — added components, then the groups (their running handlers
 * finish, offsets are committed), then the timer scheduler, then the relay (which publishes what
 * the handlers committed and the scheduler fired, within the deadline) — and finally the broker
 * and the stores. `ready()` resolves once every component is ready.
 */
export interface App<Tx> {
  /** Registers a handler for one or more event definitions in a consumer group. */
  on<S extends TSchema>(
    definition: EventDefinition<S> | readonly EventDefinition<S>[],
    options: HandlerOptions<Tx>,
    handler: Handler<Envelope<Static<S>>, Tx>,
  ): this;
  /**
   * Registers a batch handler: it gets the ready events of a partition together (in offset order,
   * those already applied left out) in one transaction with one inbox statement — the fast way to
   * consume when the effect can be written with set-based statements. When a batch fails, its
   * events go one by one through the handler's full pipeline (retries, dead letter), so a poison
   * event fails alone. A consumer group holds either event handlers or batch handlers.
   *
   * @example
   * app.onBatch(PaymentCaptured, { group: 'ledger' }, async (events, ctx) => {
   *   await ctx.tx.execute('UPDATE totals SET cents = cents + $1', [events.reduce((s, e) => s + e.data.cents, 0)]);
   * });
   */
  onBatch<S extends TSchema>(
    definition: EventDefinition<S> | readonly EventDefinition<S>[],
    options: HandlerOptions<Tx>,
    handler: BatchHandler<Envelope<Static<S>>, Tx>,
  ): this;
  /**
   * Adds a long-lived component, started after the built-in ones and closed before them; one the
   * handlers call (a `HandlerService`: a requester) starts before the consumer groups and
   * closes after them. Components added later close earlier.
   */
  use(component: Component): this;
  /** Runs `work` in one transaction: its writes and the events it publishes commit together. */
  transaction<T>(work: TransactionWork<Tx, T>): Promise<T>;
  /**
   * Runs `work` in a read-only transaction: for queries that answer a caller (an HTTP read model,
   * a report). On stores with the ability (`hasReadTransactions`: the memory, SQLite and PostgreSQL
   * stores) it sees only committed, durable data, all its statements read one consistent snapshot,
   * it never sees another transaction between two of its writes, and it takes no write lock (on
   * SQLite it runs on a read connection, not in the group commit); a write through `tx` fails with
   * the non-retriable `read-only-transaction` and changes nothing. Never batched
   * (`transactionBatch`). On stores without the ability it falls back to the stores'
   * `transaction`, with that engine's isolation, and writes are not refused.
   *
   * @example
   * const [order] = await app.read((tx) => tx.query('SELECT status FROM orders WHERE id = $1', [id]));
   */
  read<T>(work: (tx: Tx) => Promise<T>): Promise<T>;
  /** Publishes one event through the outbox in its own transaction. */
  publish: Publish;
  /**
   * Publishes straight to the log, with no transaction and no outbox: for ingest, where there is
   * no business change to commit with the event. Same envelope, validation, size limit and
   * `published` facts as {@link publish}; resolves once the broker acknowledged the append as
   * durable (the embedded log: fsync'd; Kafka: acks=all). Events of one key in one call keep
   * their order, and so do calls awaited one after another; concurrent calls and outbox publishes
   * of the same key are not ordered with each other. A call that throws may or may not have been
   * appended: retry it with the same `id` (`options.id`) so consumers' inboxes see one event.
   * Works before `start()`; fails with `closed` once the app closes.
   *
   * @example
   * const envelope = await app.publishDirect(PageViewed, { userId: 'u-1', path: '/' });
   * await app.publishDirect.many(PageViewed, batch);
   */
  publishDirect: Publish;
  /**
   * Provisions topics and starts every component; resolves once they run (see {@link ready}).
   * Rejects with `closed` when the app closes first: it starts no more components, and what it
   * started is closed.
   */
  start(options?: StartOptions): Promise<void>;
  /**
   * Resolves once every started component is ready: each consumer group has its first assignment
   * (it owns its partitions) and the relay runs. Rejects if the app closes first.
   */
  ready(): Promise<void>;
  /**
   * Closes every component in reverse order, draining under the deadline, then the engine (the
   * stores even when the broker fails to close). A start in progress is waited for, within the
   * deadline, so what it started is closed too. Idempotent. `deadlineMs` (default the app's
   * `closeDeadlineMs`) is a number >= 0 or `Infinity` (as long as it takes, up to `MAX_TIMER_MS`);
   * anything else rejects with `invalid-options`, closing nothing.
   */
  close(options?: { deadlineMs?: number }): Promise<void>;
  /**
   * Sends dead letters back through their handler with their original ids, oldest first. A
   * `park-key` key moves as a whole, as `herald dlq redrive` plans it: selecting one of its letters
   * (by `ids`, `handler` or `limit`) brings in its others still dead or parked, the dead one first.
   */
  redrive(options: RedriveOptions): Promise<RedriveResult>;
  /** Lists dead letters (the stores' read side has more: see `canBrowseDeadLetters`). */
  deadLetters(filter?: DeadLetterFilter): Promise<readonly DeadLetter[]>;
  readonly instrumentation: Instrumentation;
  readonly stores: Stores<Tx>;
  readonly broker: Broker;
  readonly logger: Logger;
  readonly clock: Clock;
  /**
   * The policy every handler starts from (`AppOptions.handlerDefaults` as given, `{}` when none):
   * components that run user code outside `on`/`onBatch` (a stream's punctuations) take their
   * timeout from here when their own options set none.
   */
  readonly handlerDefaults: HandlerPolicy<Tx>;
  /** The event types this app knows (its own definitions and its handlers'). */
  readonly events: readonly EventDefinition[];
  /** The consumer groups this app has handlers in (registered with `on` / `onBatch`), in registration order. */
  readonly groups: readonly string[];
  /**
   * What each of {@link groups} reads (same order): its topics and start position, known from
   * registration whether or not the group runs in this process — started, joined or neither. The
   * read side uses it: a group's lag is read on every partition of its topics, so a group that never
   * took a partition (its members crash before joining, or no process runs it yet) still shows the
   * records waiting for it. A new list at each read; it changes only while handlers are registered.
   */
  readonly subscriptions: readonly GroupSubscription[];
}
