import type { Static, TSchema } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { accessHook, principalOfRequest } from './access.js';
import type { ResolvedGatewayOptions } from './options.js';
import { inScope, scopeOf } from './requestScope.js';
import type { QueryRoute } from './routes.js';
import { send } from './send.js';

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
