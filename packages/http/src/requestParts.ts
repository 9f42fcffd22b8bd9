import type { Publish } from '@herald/core';
import type { FastifyRequest } from 'fastify';
import { principalOfRequest } from './access.js';
import { publishAs } from './principal.js';
import { scopedPublish, scopeOf } from './requestScope.js';
import type { PrepareInput } from './routes.js';

/**
 * What command and ingest handlers get from a request: its validated parts, scope and caller, and
 * `publish` carrying the request's correlation id, trace and principal.
 */
export function requestParts<B, P>(request: FastifyRequest, publish: Publish) {
  const parts = prepareInput<B, P>(request);
  return { ...parts, publish: scopedPublish(scopeOf(request), parts.principal ? publishAs(publish, parts.principal) : publish) };
}

/** The request's validated parts, scope and caller: what `prepare` gets, and `handle` besides its transaction. */
export function prepareInput<B, P>(request: FastifyRequest): PrepareInput<B, P> {
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
