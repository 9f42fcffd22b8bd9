import type { IncomingHttpHeaders } from 'node:http';
import { HeraldError } from '@herald/core';
import type { Logger, Publish } from '@herald/core';
import type { Static, TSchema } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { accessHook, principalOfRequest, type RouteAccess } from './access.js';
import { IDEMPOTENCY_KEY_HEADER, IDEMPOTENT_REPLAYED_HEADER, parseIdempotencyKey, requestFingerprint } from './idempotencyKey.js';
import { runIdempotent, type StoredResponse } from './idempotent.js';
import type { ResolvedGatewayOptions } from './options.js';
import { publishAs, scopedIdempotencyKey, type Principal } from './principal.js';
import { HttpErrors } from './problem.js';
import { inScope, scopedPublish, scopeOf } from './requestScope.js';

/** Whether a command route needs an `Idempotency-Key`: `required` (400 without), `optional`, or `off`. */
export type IdempotencyMode = 'required' | 'optional' | 'off';

/** What a command handler gets: the validated request parts and the open transaction. */
export interface CommandInput<Tx, B, P> {
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
}

/** A state-changing route whose work runs in one transaction, deduplicated by Idempotency-Key. */
export interface CommandRoute<Tx, B extends TSchema, P extends TSchema, R> extends RouteAccess {
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
  /** Does the work; the returned value is the JSON response body. Throw a Herald error to fail. */
  handle(input: CommandInput<Tx, Static<B>, Static<P>>): Promise<R>;
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
export function registerCommand<Tx, B extends TSchema, P extends TSchema, R>(
  fastify: FastifyInstance,
  options: ResolvedGatewayOptions<Tx>,
  route: CommandRoute<Tx, B, P, R>,
): void {
  const mode = route.idempotency ?? 'required';
  const status = route.status ?? 200;
  const { app, clock, ttlMs, leaseMs } = options;

  const onRequest = accessHook(options.auth, route);

  const produce = async (request: FastifyRequest, tx: Tx, publish: Publish): Promise<StoredResponse> => {
    const scope = scopeOf(request);
    const principal = principalOfRequest(request);
    const input = {
      body: request.body as Static<B>,
      params: request.params as Static<P>,
      headers: request.headers,
      correlationId: scope.correlationId,
      logger: scope.logger,
      tx,
      publish: scopedPublish(scope, principal ? publishAs(publish, principal) : publish),
      principal,
    };
    const result = await route.handle(input);
    // null rather than undefined, so the remembered response survives JSON storage
    return { status, body: result ?? null, headers: route.headers?.(result) ?? {} };
  };

  fastify.route({
    method: route.method,
    url: route.url,
    schema: { ...(route.body ? { body: route.body } : {}), ...(route.params ? { params: route.params } : {}) },
    ...(onRequest ? { onRequest } : {}),
    preValidation: async (request) => {
      if (route.body && !isJson(request.headers['content-type'])) {
        throw new HeraldError(HttpErrors.unsupportedMediaType, 'the request body must be application/json');
      }
      const key = mode === 'off' ? undefined : parseIdempotencyKey(request.headers[IDEMPOTENCY_KEY_HEADER]);
      if (key === undefined && mode === 'required') {
        throw new HeraldError(HttpErrors.idempotencyKeyMissing, `${route.method} ${route.url} requires an Idempotency-Key header`);
      }
    },
    handler: (request: FastifyRequest, reply: FastifyReply) => inScope(scopeOf(request), () => handle(request, reply)),
  });

  async function handle(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const key = mode === 'off' ? undefined : parseIdempotencyKey(request.headers[IDEMPOTENCY_KEY_HEADER]);
    if (key === undefined) {
      return send(reply, await app.transaction((tx, publish) => produce(request, tx, publish)), false);
    }
    const outcome = await runIdempotent({
      store: options.idempotency,
      runner: app,
      key: scopedIdempotencyKey(key, principalOfRequest(request)),
      fingerprint: requestFingerprint({ method: request.method, path: request.url, body: request.body }),
      now: clock.now(),
      ttlMs,
      leaseMs,
      logger: scopeOf(request).logger,
      work: (tx, publish) => produce(request, tx, publish),
    });
    return send(reply, outcome.response, outcome.replayed);
  }
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

function send(reply: FastifyReply, response: StoredResponse, replayed: boolean): FastifyReply {
  reply.code(response.status).headers({ ...response.headers });
  if (replayed) reply.header(IDEMPOTENT_REPLAYED_HEADER, 'true');
  return reply.type(JSON_TYPE).send(JSON.stringify(response.body));
}

/** `application/json` or any `application/*+json`, with or without parameters. */
export function isJson(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const media = contentType.split(';')[0]!.trim().toLowerCase();
  return media === 'application/json' || /^application\/[a-z0-9!#$&^_.-]+\+json$/.test(media);
}
