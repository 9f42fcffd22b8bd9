import { HeraldError } from '@herald/core';
import type { FastifyInstance } from 'fastify';
import { HttpErrors } from './errors.js';
import { clientWorded } from './problem.js';

/**
 * Bounds the requests `fastify` serves at once: one beyond `max` is answered 503 `overloaded` (with
 * `Retry-After`, see the gateway's error handler) before any of its route's work starts. Without a
 * bound a burst against a single writer (the SQLite store) queues without limit, each request
 * holding its socket, body and handler state, and memory grows with the burst; refusing early
 * lets the client or its load balancer retry elsewhere or later.
 *
 * A request is counted from its first hook and released once its response is finished or its
 * connection closes (a client that went away frees its place, though its route may still run:
 * the shutdown drain waits for that, see runningRoutes.ts). The `exempt` paths (the probes and
 * /metrics) are never counted nor refused: a busy service is alive and ready, and an orchestrator
 * must not restart or unroute it for being busy.
 */
export function limitRequestsInFlight(fastify: FastifyInstance, options: { readonly max: number; readonly exempt: ReadonlySet<string> }): void {
  const { max, exempt } = options;
  let inFlight = 0;
  fastify.addHook('onRequest', async function admitRequest(request, reply) {
    if (exempt.has(request.routeOptions.url ?? '')) return;
    if (inFlight >= max) {
      throw clientWorded(new HeraldError(HttpErrors.overloaded, `the server has ${inFlight} requests in flight, its limit; retry later`, { retriable: true }));
    }
    inFlight++;
    let released = false;
    // 'close' follows 'finish' for a response sent, and comes alone for a connection closed first
    reply.raw.once('close', () => {
      if (released) return;
      released = true;
      inFlight--;
    });
  });
}
