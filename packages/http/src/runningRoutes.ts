import type { FastifyInstance, RouteHandlerMethod } from 'fastify';

/** The route handlers still running, whether or not their clients are still connected. */
export interface RunningRoutes {
  /** How many run now. */
  readonly count: number;
  /** Resolves once none runs (at once when none does); never rejects. */
  idle(): Promise<void>;
}

/**
 * Tracks every route handler `fastify` registers from now on (the gateway's command, ingest and
 * query routes, and any a plugin adds). Draining the server waits for its connections only, and a client that gave up
 * leaves no connection while its route still runs (a transaction open, its outbox events not yet
 * committed): the gateway's `close()` waits for these too before `onClosed` closes the app under them.
 */
export function trackRunningRoutes(fastify: FastifyInstance): RunningRoutes {
  const running = new Set<Promise<void>>();
  fastify.addHook('onRoute', (route) => {
    const handler = route.handler;
    route.handler = function trackedHandler(this: FastifyInstance, request, reply) {
      const result: unknown = handler.call(this, request, reply);
      if (result instanceof Promise) {
        const settled = result.then(
          () => undefined,
          () => undefined,
        );
        running.add(settled);
        void settled.then(() => running.delete(settled));
      }
      return result;
    } as RouteHandlerMethod;
  });
  return {
    get count() {
      return running.size;
    },
    async idle() {
      while (running.size > 0) await Promise.all(running);
    },
  };
}
