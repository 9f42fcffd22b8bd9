import { HeraldError } from '@herald/core';
import type { Publish } from '@herald/core';
import type { Static, TSchema } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { accessHook, principalOfRequest } from './access.js';
import { answerFromEvent, checkAwaitEvent } from './awaitEvent.js';
import { bodyContentTypes, requireContentType } from './bodyContentType.js';
import { HttpErrors } from './errors.js';
import { idempotencyKeyOf, requestFingerprint } from './idempotencyKey.js';
import { runIdempotent, type StoredResponse } from './idempotent.js';
import { routeStatus, type ResolvedGatewayOptions } from './options.js';
import { scopedIdempotencyKey } from './principal.js';
import { prepareInput, requestParts } from './requestParts.js';
import { inScope, scopeOf } from './requestScope.js';
import type { AwaitEvent, CommandRoute } from './routes.js';
import { send } from './send.js';

/** Registers a command route on `fastify`. */
export function registerCommand<Tx, B extends TSchema, P extends TSchema, R, Pre>(
  fastify: FastifyInstance,
  options: ResolvedGatewayOptions<Tx>,
  route: CommandRoute<Tx, B, P, R, Pre>,
): void {
  if (route.awaitEvent) checkAwaitEvent(route.awaitEvent, `${route.method} ${route.url}`);
  const mode = route.idempotency ?? 'required';
  const status = routeStatus(route.status ?? 200, `command ${route.method} ${route.url}`);
  const contentTypes = bodyContentTypes(route, `command ${route.method} ${route.url}`);
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
    preParsing: async (request, reply) => requireContentType(route, contentTypes, request, reply),
    preValidation: async (request) => {
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
      return settle(route.awaitEvent, reply, await app.transaction((tx, publish) => produce(request, tx, publish, prepared)), false);
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
    return settle(route.awaitEvent, reply, outcome.response, outcome.replayed);
  }
}

/** Sends the work's response, or, with `awaitEvent`, the event's (or the 202 past the deadline). */
async function settle<R>(awaited: AwaitEvent<R> | undefined, reply: FastifyReply, response: StoredResponse, replayed: boolean): Promise<FastifyReply> {
  if (!awaited) return send(reply, response, replayed);
  const answer = await answerFromEvent(awaited, response.body as R, scopeOf(reply.request).logger);
  return send(reply, { status: answer.status, body: answer.body ?? null, headers: { ...answer.headers } }, replayed);
}

/** The request's Idempotency-Key: its headers as the app sees them, its raw lines to count repeats. */
function idempotencyKeyOfRequest(request: FastifyRequest): string | undefined {
  return idempotencyKeyOf({ headers: request.headers, rawHeaders: request.raw.rawHeaders });
}
