import type { FastifyInstance } from 'fastify';

/** Path of the metrics exposition when the gateway has `metrics`. */
export const METRICS_PATH = '/metrics';

/**
 * What the gateway needs to serve `GET /metrics` and to measure every request: `createMetrics`
 * from `@herald/metrics` returns it (this package does not depend on it, nor on prom-client).
 */
export interface GatewayMetrics {
  /** Called once per response: the route pattern (`/orders/:id`; undefined when no route matched), never the raw URL. */
  observeRequest(request: { readonly method: string; readonly route: string | undefined; readonly statusCode: number; readonly durationMs: number }): void;
  /** The exposition to answer `GET /metrics` with, and its content type. */
  scrape(): Promise<{ readonly contentType: string; readonly body: string }>;
}

/** Adds `GET /metrics` and a hook that reports every finished request to `metrics`. */
export function registerMetrics(fastify: FastifyInstance, metrics: GatewayMetrics): void {
  fastify.addHook('onResponse', async (request, reply) => {
    metrics.observeRequest({ method: request.method, route: request.routeOptions.url, statusCode: reply.statusCode, durationMs: reply.elapsedTime });
  });
  fastify.get(METRICS_PATH, async (_request, reply) => {
    const { contentType, body } = await metrics.scrape();
    return reply.type(contentType).send(body);
  });
}
