import { CoreErrors, HeraldError } from '@herald/core';
import type { Logger, Publish } from '@herald/core';
import type { Static, TSchema } from '@sinclair/typebox';
import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { accessHook, type RouteAccess } from './access.js';
import { bodyContentTypes, requireContentType } from './bodyContentType.js';
import { routeStatus, type ResolvedGatewayOptions } from './options.js';
import type { Principal } from './principal.js';
import { inScope, scopeOf } from './requestScope.js';
import { requestParts } from './requestParts.js';
import { send } from './send.js';

/**
 * A route that appends events straight to the log (`App.publishDirect`) and answers once the append
 * is durable: no transaction, no outbox, no Idempotency-Key, for ingest APIs whose only write is
 * the append (repeats are recognised downstream by event id). Default status 202.
 */
export interface IngestRoute<B extends TSchema, P extends TSchema, R> extends RouteAccess {
  /** Default `POST`. */
  readonly method?: 'POST' | 'PUT';
  readonly url: string;
  /** JSON body schema; the body must then be one of `contentTypes` (else 415) and valid (else 422). */
  readonly body?: B;
  /** With `body`: the media types the body may be sent as, `application/json` or `application/<subtype>+json` (default `['application/json']`; see `CommandRoute.contentTypes`). */
  readonly contentTypes?: readonly string[];
  readonly params?: P;
  /** The status of the answer once the events are appended, an integer from 200 to 599 (else `invalid-options` when the route is declared). Default 202. */
  readonly status?: number;
  /** Appends the events with `publish`; the returned value is the JSON response body. Throw a Herald error to fail. */
  handle(input: IngestInput<Static<B>, Static<P>>): Promise<R>;
}

/** What an ingest handler gets: the validated request parts and a publish that appends to the log. */
export interface IngestInput<B, P> {
  readonly body: B;
  readonly params: P;
  readonly headers: IncomingHttpHeaders;
  /** The request's `X-Correlation-Id`, else its request id: the events `publish` appends carry it unless given their own. */
  readonly correlationId: string;
  readonly logger: Logger;
  /** `App.publishDirect` with the request's correlation id, trace context and principal: resolves once the append is durable. */
  readonly publish: Publish;
  readonly principal: Principal | undefined;
}

/** Registers an ingest route: validation and access as for commands, then the handler's direct appends. */
export function registerIngest<Tx, B extends TSchema, P extends TSchema, R>(
  fastify: FastifyInstance,
  options: ResolvedGatewayOptions<Tx>,
  route: IngestRoute<B, P, R>,
): void {
  const publishDirect = options.app.publishDirect;
  if (!publishDirect) throw new HeraldError(CoreErrors.invalidOptions, `ingest ${route.url}: the gateway's app has no publishDirect (pass a Herald App)`);
  const method = route.method ?? 'POST';
  const status = routeStatus(route.status ?? 202, `ingest ${method} ${route.url}`);
  const contentTypes = bodyContentTypes(route, `ingest ${method} ${route.url}`);
  const onRequest = accessHook(options.auth, { ...route, method });
  fastify.route({
    method,
    url: route.url,
    schema: { ...(route.body ? { body: route.body } : {}), ...(route.params ? { params: route.params } : {}) },
    ...(onRequest ? { onRequest } : {}),
    preParsing: async (request, reply) => requireContentType(route, contentTypes, request, reply),
    handler: (request, reply) =>
      inScope(scopeOf(request), async () => {
        const result = await route.handle(requestParts<Static<B>, Static<P>>(request, publishDirect));
        return send(reply, { status, body: result ?? null }, false);
      }),
  });
}
