import type { Static, TSchema } from '@sinclair/typebox';
import type { Delivery } from './broker.js';
import type { Envelope } from './envelope.js';
import type { EventDefinition } from './events.js';
import type { Logger } from './logger.js';
import { isRuntimeContext, slowDerive } from './internal/runtimeContext.js';

/** Options for publishing one event. Correlation and causation default from the context. */
export interface PublishOptions {
  /** Overrides the key derived by the definition. */
  readonly key?: string;
  readonly correlationId?: string;
  readonly causationId?: string | null;
  readonly headers?: Readonly<Record<string, string>>;
  /** Overrides the event id (must be a UUID); use to make a publish idempotent. */
  readonly id?: string;
  readonly occurredAt?: Date;
}

/** Appends events to the outbox inside the current transaction. */
export type Publish = <S extends TSchema>(
  definition: EventDefinition<S>,
  data: Static<S>,
  options?: PublishOptions,
) => Promise<Envelope<Static<S>>>;

/**
 * What a handler gets besides the event. Effects go through it: `tx` for the handler's own writes
 * and `publish` for outgoing events; both commit together with the inbox mark, or not at all.
 */
export interface HandlerContext<Tx = unknown> {
  /** The open store transaction (SQL on the SQLite and PostgreSQL engines). */
  readonly tx: Tx;
  /** Publishes through the outbox in `tx`; correlation id and causation id are filled in from the event. */
  readonly publish: Publish;
  /** 1 on the first try, then 2, 3... */
  readonly attempt: number;
  readonly logger: Logger;
  /** Aborted when the attempt times out or the consumer is closing. */
  readonly signal: AbortSignal;
  readonly group: string;
  /** The handler's name (defaults to `group:EventType`). */
  readonly handler: string;
  /** Where the event was read from. */
  readonly delivery: Delivery;
  /** True when the event is being redriven from the dead letter store. */
  readonly redrive: boolean;
}

/** The one handler shape. */
export type Handler<E = Envelope, Tx = unknown> = (event: E, ctx: HandlerContext<Tx>) => Promise<void>;

/** A policy wrapped around a handler. */
export type Middleware<Tx = unknown> = (next: Handler<Envelope, Tx>) => Handler<Envelope, Tx>;

/**
 * Joins middleware around a handler. The first listed runs outermost: `compose(a, b)(h)` runs
 * a, then b, then h.
 */
export function compose<Tx>(...middleware: readonly Middleware<Tx>[]): (handler: Handler<Envelope, Tx>) => Handler<Envelope, Tx> {
  return (handler) => middleware.reduceRight<Handler<Envelope, Tx>>((next, wrap) => wrap(next), handler);
}

/**
 * Returns a context like `base` with `overrides` applied, leaving `base` untouched. For the
 * runtime's own contexts this is one cheap copy; for any other object it reads through to `base`.
 */
export function deriveContext<Tx>(base: HandlerContext<Tx>, overrides: Partial<HandlerContext<Tx>>): HandlerContext<Tx> {
  return isRuntimeContext(base) ? base.derive(overrides) : slowDerive(base, overrides);
}
