import type { IncomingHttpHeaders } from 'node:http';
import type { Envelope, Logger, Publish } from '@herald/core';
import type { Static, TSchema } from '@sinclair/typebox';
import type { RouteAccess } from './access.js';
import type { Principal } from './principal.js';

/** Whether a command route needs an `Idempotency-Key`: `required` (400 without), `optional`, or `off`. */
export type IdempotencyMode = 'required' | 'optional' | 'off';

/** What a command handler gets: the validated request parts and the open transaction. */
export interface CommandInput<Tx, B, P, Pre = undefined> {
  readonly body: B;
  readonly params: P;
  readonly headers: IncomingHttpHeaders;
  /** The request's `X-Correlation-Id`, else its request id: the events `publish` appends carry it unless given their own. */
  readonly correlationId: string;
  /** The app's logger with this request's request id, correlation id and trace id. */
  readonly logger: Logger;
  /** The store transaction: the handler's writes commit with its events and the idempotency record. */
  readonly tx: Tx;
  /** Appends events to the outbox in `tx`, with the request's correlation id and trace context; with a principal, each event carries it in its headers. */
  readonly publish: Publish;
  /** The authenticated caller; undefined on routes with authentication `off` (or `optional` and no token). */
  readonly principal: Principal | undefined;
  /** What the route's `prepare` returned for this request (undefined without one). */
  readonly prepared: Pre;
}

/** What a command route's `prepare` gets: the validated request parts and the caller, no transaction. */
export type PrepareInput<B, P> = Omit<CommandInput<unknown, B, P>, 'tx' | 'publish' | 'prepared'>;

/** A state-changing route whose work runs in one transaction, deduplicated by Idempotency-Key. */
export interface CommandRoute<Tx, B extends TSchema, P extends TSchema, R, Pre = undefined> extends RouteAccess {
  readonly method: 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  readonly url: string;
  /** JSON body schema; the body must then be one of `contentTypes` (else 415) and valid (else 422). */
  readonly body?: B;
  /**
   * With `body`: the media types the body may be sent as, `application/json` or
   * `application/<subtype>+json` without parameters; default `['application/json']`. Any other is
   * 415 with `Accept` listing these. Name a `+json` type only when `handle` implements what it
   * means: `application/merge-patch+json` (RFC 7396) deletes the fields it sets to `null`.
   */
  readonly contentTypes?: readonly string[];
  readonly params?: P;
  /** Default `required`. */
  readonly idempotency?: IdempotencyMode;
  /** The status of the answer once the work committed, an integer from 200 to 599 (else `invalid-options` when the route is declared). Default 200. */
  readonly status?: number;
  /** Extra response headers derived from the result (e.g. `location`); remembered for replays. Declare it after `handle` so TypeScript infers `R` from `handle`. */
  readonly headers?: (result: NoInfer<R>) => Record<string, string>;
  /**
   * Slow work that needs no transaction, run before it opens (a password hash, a call to another
   * system); its result reaches `handle` as `prepared`. With an Idempotency-Key it runs once the
   * request holds the key: a replay is answered before it (so it is never paid for, nor can its
   * failure hide the stored answer), and a failed prepare takes no key. It may still run again for
   * a retry after a failure, so it must have no effects. Declare it before `handle`.
   */
  readonly prepare?: (input: PrepareInput<Static<B>, Static<P>>) => Promise<Pre>;
  /** Does the work; the returned value is the JSON response body. Throw a Herald error to fail. */
  handle(input: CommandInput<Tx, Static<B>, Static<P>, NoInfer<Pre>>): Promise<R>;
  /**
   * Answer from an event instead: once the work committed (or its response is replayed), hold the
   * request until the correlated event arrives and answer from it; past `timeoutMs`, or once the
   * gateway stops accepting requests (`close()`), answer 202 with a `Location` to poll. The work
   * committed, so a waiter that cannot take the wait (not started yet, or closed), a wait that
   * rejects or a `lookup` that throws also gets that 202, never an error. Declare it after `handle`.
   */
  readonly awaitEvent?: AwaitEvent<NoInfer<R>>;
}

/**
 * A response a route builds: status, JSON body and extra headers. A `content-type` among them is
 * kept when it is a JSON type (`application/problem+json` for an answer that is a problem), else
 * the body goes as `application/json`; a type the JSON body is not is refused (500 `internal`).
 */
export interface RouteResponse {
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

/** Waits for events by correlation id (`@herald/reply`'s `createEventWaiter` is one). */
export interface EventWait {
  expect(correlationId: string, options: { readonly timeoutMs: number; readonly until?: (event: Envelope) => boolean }): {
    readonly result: Promise<Envelope | undefined>;
    cancel(): void;
  };
}

/**
 * How a command route answers from an event: the work's result (a stored one on a replay) names
 * the correlation id its events carry; the first event with it that `until` accepts makes the
 * response. With several gateway replicas, each replica's waiter reads every event, so the one
 * holding the request answers; a client whose replica died retries with the same
 * Idempotency-Key (the work is not done again, the wait is) or polls the `Location`.
 */
export interface AwaitEvent<R> {
  readonly waiter: EventWait;
  /** How long to hold the request after the work committed. */
  readonly timeoutMs: number;
  /** The correlation id of the awaited event, from the work's result. */
  correlationId(result: R): string;
  /** Which event ends the wait; default the first with the correlation id. */
  readonly until?: (event: Envelope) => boolean;
  /** The response, from the event that arrived. */
  answer(event: Envelope, result: R): RouteResponse;
  /**
   * The response when the outcome is already known (read from the application's state): checked
   * after the wait is registered, so an event that arrived before it is not missed. Undefined
   * while the outcome is pending.
   */
  readonly lookup?: (result: R) => Promise<RouteResponse | undefined>;
  /** Where the client polls for the outcome: the 202's `Location`. */
  location(result: R): string;
  /** The 202's body; default the work's result. */
  readonly pending?: (result: R) => unknown;
}

/** A read-only route. */
export interface QueryRoute<P extends TSchema, Q extends TSchema, R> extends RouteAccess {
  readonly url: string;
  readonly params?: P;
  readonly querystring?: Q;
  handle(input: QueryInput<Static<P>, Static<Q>>): Promise<R>;
}

/** What a query handler gets: the validated request parts, the caller, and the request's correlation id and logger. */
export interface QueryInput<P, Q> {
  readonly params: P;
  readonly query: Q;
  readonly headers: IncomingHttpHeaders;
  readonly correlationId: string;
  readonly logger: Logger;
  /** The authenticated caller; undefined on routes with authentication `off` (or `optional` and no token). */
  readonly principal: Principal | undefined;
}
