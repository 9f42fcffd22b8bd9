import type { FastifyInstance } from 'fastify';
import Router from 'find-my-way';

/**
 * The methods a path is routed for, when the request's own method is not one of them: what a 405
 * answers in its `Allow` header (RFC 9110 §15.5.6) instead of a 404 that says the resource does
 * not exist. Fastify's router answers "not found" for both; this keeps a router of its own, with
 * the same patterns and options, fed by every route registered from now on.
 */
export interface AllowedMethods {
  /** The methods `path` (no query) is routed for, sorted; empty when it matches no route. */
  of(path: string): string[];
}

export function trackAllowedMethods(fastify: FastifyInstance, options: { readonly maxParamLength: number }): AllowedMethods {
  const router = Router({ maxParamLength: options.maxParamLength });
  const methods = new Set<string>();
  fastify.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      // the same route twice (fastify refuses that itself), or a HEAD fastify adds for a GET route
      if (router.hasRoute(method as Router.HTTPMethod, route.url)) continue;
      router.on(method as Router.HTTPMethod, route.url, () => {});
      methods.add(method);
    }
  });
  return {
    of(path) {
      const allowed: string[] = [];
      for (const method of methods) {
        if (router.find(method as Router.HTTPMethod, path) !== null) allowed.push(method);
      }
      return allowed.sort();
    },
  };
}
