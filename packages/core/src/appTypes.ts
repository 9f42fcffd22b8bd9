import type { Static, TSchema } from '@sinclair/typebox';
import type { Broker, StartPosition, TopicSpec } from './broker.js';
import type { Clock } from './clock.js';
import type { Envelope } from './envelope.js';
import type { EventDefinition } from './events.js';
import type { Handler, Middleware, Publish } from './handler.js';
import type { Instrumentation } from './instrumentation.js';
import type { Logger } from './logger.js';
import type { DeadLetterFilter, DeadLetterPolicy, Stores } from './store.js';
import type { RetryOptions } from './middleware/retry.js';
import type { RelayOptions } from './relay.js';

/** Per-handler policy settings; app-wide defaults come from {@link AppOptions.handlerDefaults}. */
export interface HandlerPolicy<Tx = unknown> {
  readonly retry?: RetryOptions;
  /** Per-attempt deadline. Default 30 000. */
  readonly timeoutMs?: number;
  /** Default `skip`. */
  readonly deadLetter?: DeadLetterPolicy;
  /** Extra middleware, run inside retry and outside the inbox transaction, first listed outermost. */
  readonly middleware?: readonly Middleware<Tx>[];
}

export interface HandlerOptions<Tx = unknown> extends HandlerPolicy<Tx> {
  /** Consumer group: each group sees every event of its topics once. */
  readonly group: string;
  /** Defaults to `group:EventType`. */
  readonly name?: string;
}

/** Settings of one consumer group's runtime. */
export interface GroupOptions {
  /** Keys of one partition processed at the same time. Default 16. */
  readonly concurrency?: number;
  /** Deliveries held (queued or running) per group before fetching pauses. Default 2 000. */
  readonly maxInFlight?: number;
  /** How often completed offsets are committed. Default 200 ms (and on close and revoke). */
  readonly commitIntervalMs?: number;
  /** Where a new group starts. Default `earliest`. */
  readonly start?: StartPosition;
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
  readonly logger?: Logger;
  /** Largest serialised event accepted at publish. Default 1 MiB. */
  readonly maxEventBytes?: number;
  readonly handlerDefaults?: HandlerPolicy<Tx>;
  readonly groups?: Readonly<Record<string, GroupOptions>>;
  readonly relay?: RelayOptions;
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
}

export interface StartOptions {
  /** Which consumer groups to run: all registered (default), none, or the listed ones. */
  readonly groups?: boolean | readonly string[];
  /** Whether to run the outbox relay in this process. Default true. */
  readonly relay?: boolean;
  /** Stops the app (as `close()`) when aborted. */
  readonly signal?: AbortSignal;
  /** Close gracefully on SIGTERM and SIGINT. Default false. */
  readonly handleSignals?: boolean;
}

export interface RedriveOptions {
  readonly group: string;
  readonly handler?: string;
  readonly ids?: readonly string[];
  readonly key?: string;
  readonly limit?: number;
}

export interface RedriveResult {
  /** Letters that went through the handler (or were found already applied). */
  readonly redriven: number;
  /** Letters that failed again and stay dead. */
  readonly failed: number;
  /** Parked letters still waiting because an earlier letter of their key failed again. */
  readonly stillParked: number;
}

/** Work run by {@link App.transaction}: writes through `tx`, events through `publish`. */
export type TransactionWork<Tx, T> = (tx: Tx, publish: Publish) => Promise<T>;

/** A Herald application: event definitions, handlers, the relay and consumer groups over one engine. */
export interface App<Tx> {
  /** Registers a handler for one or more event definitions in a consumer group. */
  on<S extends TSchema>(
    definition: EventDefinition<S> | readonly EventDefinition<S>[],
    options: HandlerOptions<Tx>,
    handler: Handler<Envelope<Static<S>>, Tx>,
  ): this;
  /** Runs `work` in one transaction: its writes and the events it publishes commit together. */
  transaction<T>(work: TransactionWork<Tx, T>): Promise<T>;
  /** Publishes one event through the outbox in its own transaction. */
  publish: Publish;
  /** Provisions topics, starts the relay and consumer groups. */
  start(options?: StartOptions): Promise<void>;
  /** Stops consuming, drains in-flight work under a deadline, commits, closes the engine. Idempotent. */
  close(options?: { deadlineMs?: number }): Promise<void>;
  /** Sends dead letters back through their handler with their original ids. */
  redrive(options: RedriveOptions): Promise<RedriveResult>;
  /** Lists dead letters. */
  deadLetters(filter?: DeadLetterFilter): ReturnType<Stores<Tx>['deadLetters']['list']>;
  readonly instrumentation: Instrumentation;
  readonly stores: Stores<Tx>;
  readonly broker: Broker;
  readonly logger: Logger;
  readonly clock: Clock;
}
