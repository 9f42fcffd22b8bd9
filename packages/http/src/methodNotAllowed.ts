import { HeraldError } from '@herald/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import Router from 'find-my-way';
import { HttpErrors } from './errors.js';

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
        const found = router.find(method as Router.HTTPMethod, path);
        if (found !== null && !hasEmptyParam(found.params)) allowed.push(method);
      }
      return allowed.sort();
    },
  };
}

/**
 * Whether a route matched with a named path parameter left empty: the router takes `/orders/` for
 * `/orders/:id` with `id` `''`. That is no resource's path; trailing slashes are not ignored
 * (`/orders/o-1/` is no route either), so it selects no route. A wildcard (`*`) may be empty.
 */
export function hasEmptyParam(params: unknown): boolean {
  if (typeof params !== 'object' || params === null) return false;
  return Object.entries(params).some(([name, value]) => value === '' && name !== '*');
}

/**
 * The refusal of a request no route takes: 405 `method-not-allowed` with `Allow` (set on `reply`)
 * when its path is routed for other methods, else 404 `not-found`.
 */
export function routeMiss(allowedMethods: AllowedMethods, request: FastifyRequest, reply: FastifyReply): HeraldError {
  const path = request.url.split('?')[0]!;
  const allowed = allowedMethods.of(path);
  if (allowed.length === 0) return new HeraldError(HttpErrors.notFound, `no route for ${request.method} ${path}`);
  reply.header('allow', allowed.join(', '));
  return new HeraldError(HttpErrors.methodNotAllowed, `${path} takes ${allowed.join(', ')}, not ${request.method}`);
}
