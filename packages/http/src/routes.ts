import type { IncomingHttpHeaders } from 'node:http';
import { CoreErrors, HeraldError, MAX_TIMER_MS, isHeraldError } from '@herald/core';
import type { Envelope, Logger, Publish } from '@herald/core';
import type { Static, TSchema } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { accessHook, principalOfRequest, type RouteAccess } from './access.js';
import { IDEMPOTENT_REPLAYED_HEADER, idempotencyKeyOf, requestFingerprint } from './idempotencyKey.js';
import { runIdempotent, type StoredResponse } from './idempotent.js';
import { isJson } from './jsonBody.js';
import type { ResolvedGatewayOptions } from './options.js';
import { publishAs, scopedIdempotencyKey, type Principal } from './principal.js';
import { HttpErrors } from './errors.js';
import { inScope, scopedPublish, scopeOf } from './requestScope.js';

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
  /** JSON body schema; the body must then be `application/json` (else 415) and valid (else 422). */
  readonly body?: B;
  readonly params?: P;
  /** Default `required`. */
  readonly idempotency?: IdempotencyMode;
  /** Success status. Default 200. */
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
   * request until the correlated event arrives and answer from it; past `timeoutMs`, answer 202
   * with a `Location` to poll. The work committed, so a waiter that cannot take the wait (not
   * started yet, or closed) or a `lookup` that throws also gets that 202, never an error.
   * Declare it after `handle`.
   */
  readonly awaitEvent?: AwaitEvent<NoInfer<R>>;
}

/** A response a route builds: status, JSON body and extra headers. */
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

const JSON_TYPE = 'application/json; charset=utf-8';

/** Registers a command route on `fastify`. */
export function registerCommand<Tx, B extends TSchema, P extends TSchema, R, Pre>(
  fastify: FastifyInstance,
  options: ResolvedGatewayOptions<Tx>,
  route: CommandRoute<Tx, B, P, R, Pre>,
): void {
  if (route.awaitEvent) checkAwaitEvent(route.awaitEvent, `${route.method} ${route.url}`);
  const mode = route.idempotency ?? 'required';
  const status = route.status ?? 200;
  const { app, clock, ttlMs, leaseMs } = options;

  const onRequest = accessHook(options.auth, route);

  const produce = async (request: FastifyRequest, tx: Tx, publish: Publish, prepared: Pre): Promise<StoredResponse> => {
    const result = await route.handle({ ...requestParts<Static<B>, Static<P>>(request, publish), tx, prepared });
    // null rather than undefined, so the remembered response survives JSON storage
    return { status, body: result ?? null, headers: route.headers?.(result) ?? {} };
  };

  fastify.route({
    method: route.method,
    url: route.url,
    schema: { ...(route.body ? { body: route.body } : {}), ...(route.params ? { params: route.params } : {}) },
    ...(onRequest ? { onRequest } : {}),
    preValidation: async (request) => {
      requireJsonBody(route, request);
      const key = mode === 'off' ? undefined : idempotencyKeyOfRequest(request);
      if (key === undefined && mode === 'required') {
        throw new HeraldError(HttpErrors.idempotencyKeyMissing, `${route.method} ${route.url} requires an Idempotency-Key header`);
      }
    },
    handler: (request: FastifyRequest, reply: FastifyReply) => inScope(scopeOf(request), () => handle(request, reply)),
  });

  async function handle(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const key = mode === 'off' ? undefined : idempotencyKeyOfRequest(request);
    const prepare = async (): Promise<Pre> => (route.prepare ? await route.prepare(prepareInput(request)) : undefined) as Pre;
    if (key === undefined) {
      const prepared = await prepare();
      return settle(reply, await app.transaction((tx, publish) => produce(request, tx, publish, prepared)), false);
    }
    // set by runIdempotent's prepare step, which runs before the work once the key is held
    let prepared: Pre | undefined;
    const outcome = await runIdempotent({
      store: options.idempotency,
      runner: app,
      key: scopedIdempotencyKey(key, principalOfRequest(request)),
      clientKey: key,
      fingerprint: requestFingerprint({ method: request.method, path: request.url, body: request.body }),
      now: clock.now(),
      ttlMs,
      leaseMs,
      logger: scopeOf(request).logger,
      prepare: async () => {
        prepared = await prepare();
      },
      work: (tx, publish) => produce(request, tx, publish, prepared as Pre),
    });
    return settle(reply, outcome.response, outcome.replayed);
  }

  /** Sends the work's response, or, with `awaitEvent`, the event's (or the 202 past the deadline). */
  async function settle(reply: FastifyReply, response: StoredResponse, replayed: boolean): Promise<FastifyReply> {
    const awaited = route.awaitEvent;
    if (!awaited) return send(reply, response, replayed);
    const answer = await answerFromEvent(awaited, response.body as R, scopeOf(reply.request).logger);
    return send(reply, { status: answer.status, body: answer.body ?? null, headers: { ...answer.headers } }, replayed);
  }
}

/**
 * The answer of an `awaitEvent` route once its work committed: what `lookup` knows, else the
 * awaited event's, else the 202 with its `Location`. The work is done, so a wait the waiter cannot
 * take (not started yet, or closed) or a lookup that throws does not fail the request: it is
 * logged, and the route answers as when the event does not come in time (the client polls the
 * `Location` or retries its key). The route's own `answer`, `location` and `pending` are its code:
 * one that throws is a 500, as a throwing `handle` is.
 */
async function answerFromEvent<R>(awaited: AwaitEvent<R>, result: R, logger: Logger): Promise<RouteResponse> {
  let expectation: ReturnType<EventWait['expect']> | undefined;
  try {
    expectation = awaited.waiter.expect(awaited.correlationId(result), { timeoutMs: awaited.timeoutMs, ...(awaited.until ? { until: awaited.until } : {}) });
  } catch (error) {
    logAfterCommit(logger, 'http: the awaited event cannot be waited for; the route answers without it', error);
  }
  let known: RouteResponse | undefined;
  try {
    known = await awaited.lookup?.(result);
  } catch (error) {
    logAfterCommit(logger, 'http: the lookup of an awaited outcome failed; the route answers without it', error);
  }
  if (known) {
    expectation?.cancel();
    return known;
  }
  const event = await expectation?.result;
  if (event) return awaited.answer(event, result);
  return { status: 202, body: awaited.pending ? awaited.pending(result) : result, headers: { location: awaited.location(result) } };
}

/**
 * Refuses, when the route is declared, an `awaitEvent` the waiter would refuse per request: after
 * the commit such a refusal can only be logged and answered with the 202, so it would go unseen.
 */
function checkAwaitEvent<R>(awaited: AwaitEvent<R>, route: string): void {
  const invalid = (why: string) => new HeraldError(CoreErrors.invalidOptions, `command ${route}: awaitEvent.${why}`);
  if (typeof awaited.waiter?.expect !== 'function') throw invalid('waiter must have expect() (createEventWaiter from @herald/reply gives one)');
  if (!(Number.isInteger(awaited.timeoutMs) && awaited.timeoutMs > 0 && awaited.timeoutMs <= MAX_TIMER_MS)) {
    throw invalid(`timeoutMs must be a whole number of ms from 1 to ${MAX_TIMER_MS}, got ${String(awaited.timeoutMs)}`);
  }
  for (const name of ['correlationId', 'answer', 'location'] as const) {
    if (typeof awaited[name] !== 'function') throw invalid(`${name} must be a function`);
  }
}

/** A failure after the work committed: at warn when it may pass (a waiter closing, a store busy), else at error. */
function logAfterCommit(logger: Logger, message: string, error: unknown): void {
  if (isHeraldError(error) && error.retriable) logger.warn(message, { error });
  else logger.error(message, { error });
}

/** The request's Idempotency-Key: its headers as the app sees them, its raw lines to count repeats. */
function idempotencyKeyOfRequest(request: FastifyRequest): string | undefined {
  return idempotencyKeyOf({ headers: request.headers, rawHeaders: request.raw.rawHeaders });
}

/** A route with a body schema takes JSON only: 415 otherwise. */
export function requireJsonBody(route: { readonly body?: TSchema }, request: FastifyRequest): void {
  if (route.body && !isJson(request.headers['content-type'])) {
    throw new HeraldError(HttpErrors.unsupportedMediaType, 'the request body must be application/json');
  }
}

/**
 * What command and ingest handlers get from a request: its validated parts, scope and caller, and
 * `publish` carrying the request's correlation id, trace and principal.
 */
export function requestParts<B, P>(request: FastifyRequest, publish: Publish) {
  const parts = prepareInput<B, P>(request);
  return { ...parts, publish: scopedPublish(scopeOf(request), parts.principal ? publishAs(publish, parts.principal) : publish) };
}

/** The request's validated parts, scope and caller: what `prepare` gets, and `handle` besides its transaction. */
function prepareInput<B, P>(request: FastifyRequest): PrepareInput<B, P> {
  const scope = scopeOf(request);
  return {
    body: request.body as B,
    params: request.params as P,
    headers: request.headers,
    correlationId: scope.correlationId,
    logger: scope.logger,
    principal: principalOfRequest(request),
  };
}

/** Registers a GET route. */
export function registerQuery<Tx, P extends TSchema, Q extends TSchema, R>(
  fastify: FastifyInstance,
  options: ResolvedGatewayOptions<Tx>,
  route: QueryRoute<P, Q, R>,
): void {
  const onRequest = accessHook(options.auth, { ...route, method: 'GET' });
  fastify.route({
    method: 'GET',
    url: route.url,
    schema: { ...(route.params ? { params: route.params } : {}), ...(route.querystring ? { querystring: route.querystring } : {}) },
    ...(onRequest ? { onRequest } : {}),
    handler: (request, reply) => {
      const scope = scopeOf(request);
      return inScope(scope, async () => {
        const input = {
          params: request.params as Static<P>,
          query: request.query as Static<Q>,
          headers: request.headers,
          correlationId: scope.correlationId,
          logger: scope.logger,
          principal: principalOfRequest(request),
        };
        return send(reply, { status: 200, body: (await route.handle(input)) ?? null }, false);
      });
    },
  });
}

export function send(reply: FastifyReply, response: StoredResponse, replayed: boolean): FastifyReply {
  reply.code(response.status).headers({ ...response.headers });
  if (replayed) reply.header(IDEMPOTENT_REPLAYED_HEADER, 'true');
  return reply.type(JSON_TYPE).send(JSON.stringify(response.body));
}
