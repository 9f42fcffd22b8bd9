import type { AddressInfo } from 'node:net';
import { CoreErrors, HeraldError, closeOnSignals, uuidv7, type Logger } from '@herald/core';
import type { TSchema } from '@sinclair/typebox';
import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { bearerChallenge } from './access.js';
import { clientErrorHandler } from './clientError.js';
import { CORRELATION_ID_HEADER, REQUEST_ID_HEADER, parseCorrelationId } from './correlation.js';
import { fastifyLogger, heraldLoggerOf } from './fastifyLogger.js';
import { limitRequestsInFlight } from './inFlight.js';
import { jsonBodyParser } from './jsonBody.js';
import { listenError } from './listenError.js';
import { hasEmptyParam, routeMiss, trackAllowedMethods } from './methodNotAllowed.js';
import { closeDeadline, resolveGatewayOptions, type GatewayOptions, type ResolvedGatewayOptions } from './options.js';
import { METRICS_PATH, registerMetrics } from './metrics.js';
import { HttpErrors, HttpErrorCodes } from './errors.js';
import { PROBLEM_CONTENT_TYPE, clientWorded, problemInstance, toProblem, type Problem } from './problem.js';
import { startIdempotencyPurger, type Purger } from './purger.js';
import { createReadiness, type Readiness } from './readiness.js';
import { registerRequestScope, scopeOf } from './requestScope.js';
import { registerIngest, type IngestRoute } from './ingest.js';
import { registerCommand } from './commandRoute.js';
import { registerQuery } from './queryRoute.js';
import { releaseOnDrain } from './releaseOnDrain.js';
import { trackRunningRoutes } from './runningRoutes.js';
import type { CommandRoute, QueryRoute } from './routes.js';
import { queryNotUtf8, urlHasNul } from './text.js';
import { compileValidator, requestPartInvalid } from './validation.js';

/** Liveness probe path: 200 while the process runs (also while draining). */
export const LIVEZ_PATH = '/livez';
/** Readiness probe path: 200 only between `markReady()` and the start of `close()`, else 503. */
export const READYZ_PATH = '/readyz';

/**
 * Longest path parameter the router matches, as sent (percent-encoded); a longer one is 414
 * `uri-too-long`. Fastify's 100 would refuse ids clients legitimately send and poll as path
 * parameters: a correlation id may be 128 characters, and 3 × 128 covers one whose every
 * character is percent-encoded. Route schemas (`maxLength`) give the precise limits.
 */
const MAX_PARAM_LENGTH = 3 * 128;

/** `application/<subtype>+json`, with or without parameters (fastify tests the whole header). */
const JSON_SUFFIX_TYPE = /^application\/[a-z0-9!#$&^_.-]+\+json(?:\s*;.*)?$/i;

/** An HTTP gateway in front of a Herald app. */
export interface Gateway<Tx> {
  /** Adds a state-changing route (one transaction, Idempotency-Key). Register before `listen`. */
  command<B extends TSchema, P extends TSchema, R, Pre = undefined>(route: CommandRoute<Tx, B, P, R, Pre>): this;
  /** Adds a route appending straight to the log, answered once the append is durable (no transaction, no Idempotency-Key). Register before `listen`. */
  ingest<B extends TSchema, P extends TSchema, R>(route: IngestRoute<B, P, R>): this;
  /** Adds a GET route. Register before `listen`. */
  query<P extends TSchema, Q extends TSchema, R>(route: QueryRoute<P, Q, R>): this;
  /**
   * Starts listening (on 127.0.0.1 unless `host` says otherwise); readiness stays `starting` until
   * {@link markReady}. Starts the key purger. A port in use or privileged, or a host that is no
   * address of this machine, fails with `listen-failed` naming the address.
   */
  listen(options: { port: number; host?: string }): Promise<{ host: string; port: number; url: string }>;
  /** Reports ready: GET /readyz answers 200 from now until closing begins. */
  markReady(): void;
  /**
   * Graceful shutdown, idempotent: reports not-ready, waits `readinessGraceMs`, refuses new
   * requests (503), answers commands held for an event with their 202 (their work committed), lets
   * in-flight ones finish until `deadlineMs` (also those whose client went away) then cuts their
   * connections, stops the purger and runs `onClosed`. `deadlineMs`: >= 0, or `Infinity` for as long
   * as it takes (up to `MAX_TIMER_MS`); anything else rejects with `invalid-options`, closing nothing.
   */
  close(options?: { deadlineMs?: number }): Promise<void>;
  readonly readiness: Readiness;
  /** The underlying fastify instance (for `inject` in tests, or extra plugins). */
  readonly fastify: FastifyInstance;
}

/**
 * Creates an HTTP gateway on fastify 5. Every error leaves as RFC 9457 `application/problem+json`;
 * bodies are JSON only (`application/json` or a route's `contentTypes`, 415 otherwise) in UTF-8
 * (415 for another declared charset, 400 for bytes that are not UTF-8), not encoded (415 for a
 * Content-Encoding other than identity), at most `bodyLimitBytes` (413), nested at most
 * `maxBodyDepth` levels (400), well-formed (400), without `__proto__` (422 `forbidden-property`)
 * and valid against the route's TypeBox schema (422, listing the offending fields).
 *
 * Why fastify rather than hono: Herald runs on Node, where fastify gives, built in and well
 * tested, what a gateway needs: a body limit enforced while streaming (413), content-type parsing
 * with a 415 for unknown types, per-route schema validation with a pluggable compiler (TypeBox
 * here), an explicit lifecycle (hooks, `close()` that drains, 503 while closing) and
 * light-my-request injection for tests without a socket. Hono is lighter and runs on more
 * runtimes, but on Node it needs an adapter and leaves body limits and draining to us.
 *
 * @example
 * const gateway = createGateway({ app, shutdown: { onClosed: () => app.close() } });
 * gateway.command({ method: 'POST', url: '/orders', body: CreateOrder, status: 201,
 *   handle: async ({ body, tx, publish }) => { ...; return { orderId } } });
 * await gateway.listen({ port: 8080 });
 * await app.start();
 * gateway.markReady();
 */
export function createGateway<Tx>(options: GatewayOptions<Tx>): Gateway<Tx> {
  const resolved = resolveGatewayOptions(options);
  const readiness = createReadiness();
  const fastify = buildFastify(resolved, readiness);
  const running = trackRunningRoutes(fastify);
  let purger: Purger | undefined;
  let closing: Promise<void> | undefined;
  let disposeSignals: (() => void) | undefined;
  // aborted once the gateway stops accepting: requests held for an event are answered then (see releaseOnDrain)
  const draining = new AbortController();

  const gateway: Gateway<Tx> = {
    command(route) {
      registerCommand(fastify, resolved, route.awaitEvent ? { ...route, awaitEvent: releaseOnDrain(route.awaitEvent, draining.signal) } : route);
      return gateway;
    },
    ingest(route) {
      registerIngest(fastify, resolved, route);
      return gateway;
    },
    query(route) {
      registerQuery(fastify, resolved, route);
      return gateway;
    },
    async listen({ port, host = '127.0.0.1' }) {
      if (!Number.isInteger(port) || port < 0 || port > 65_535) {
        throw new HeraldError(CoreErrors.invalidOptions, `http: listen: port must be an integer from 0 to 65535 (0: the system picks a free one), got ${String(port)}`);
      }
      try {
        await fastify.listen({ port, host });
      } catch (error) {
        throw listenError(error, host, port);
      }
      if (resolved.purgeIntervalMs > 0 && !purger) {
        purger = startIdempotencyPurger({ store: resolved.idempotency, clock: resolved.clock, intervalMs: resolved.purgeIntervalMs, logger: resolved.logger });
      }
      if (resolved.handleSignals) disposeSignals = closeOnSignals(() => gateway.close(), { logger: resolved.logger });
      const address = fastify.server.address() as AddressInfo;
      const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      return { host: address.address, port: address.port, url: `http://${shownHost}:${address.port}` };
    },
    markReady: () => readiness.markReady(),
    close(closeOptions = {}) {
      try {
        closing ??= drain(closeDeadline(closeOptions.deadlineMs ?? resolved.deadlineMs));
      } catch (error) {
        return Promise.reject(error as Error);
      }
      return closing;
    },
    readiness,
    fastify,
  };

  async function drain(deadlineMs: number): Promise<void> {
    readiness.markDraining();
    if (resolved.readinessGraceMs > 0) await resolved.clock.sleep(resolved.readinessGraceMs);
    stopping = true;
    draining.abort();
    const closed = fastify.close();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'deadline'>((resolve) => (timer = setTimeout(() => resolve('deadline'), deadlineMs)));
    // the routes too: one whose client went away holds no connection, and onClosed would close the app under it
    const drained = closed.then(() => running.idle()).then(() => 'drained' as const);
    if ((await Promise.race([drained, deadline])) === 'deadline') {
      resolved.logger.warn('http: shutdown deadline passed, closing open connections', { deadlineMs, runningRoutes: running.count });
      fastify.server.closeAllConnections();
    }
    clearTimeout(timer);
    await closed;
    await purger?.stop();
    disposeSignals?.();
    try {
      await resolved.onClosed?.();
    } finally {
      readiness.markClosed();
    }
  }

  // set once the listener stops accepting: later requests on kept-alive connections get a 503
  let stopping = false;
  fastify.addHook('onRequest', async (request, reply) => {
    if (!stopping) return;
    reply.header('connection', 'close');
    if (request.url !== LIVEZ_PATH) throw clientWorded(new HeraldError(HttpErrors.unavailable, 'the server is shutting down', { retriable: true }));
  });
  return gateway;
}

function buildFastify<Tx>(options: ResolvedGatewayOptions<Tx>, readiness: Readiness): FastifyInstance {
  const fastify = Fastify({
    bodyLimit: options.bodyLimitBytes,
    // fastify turns Node's request timeout off (0): a client trickling its body would hold its
    // connection for ever. Node looks for late requests every `connectionsCheckingInterval`, 30 s
    // by default (a 30 s timeout could run 60 s): every second here. Headers keep Node's 60 s at most.
    requestTimeout: options.requestTimeoutMs,
    http: {
      requestTimeout: options.requestTimeoutMs,
      headersTimeout: Math.min(60_000, options.requestTimeoutMs),
      connectionsCheckingInterval: Math.min(1_000, options.requestTimeoutMs),
    },
    // fastify's lines go through the app's logger; the request scope writes one line per request
    loggerInstance: fastifyLogger(options.logger),
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'requestId' }),
    genReqId: () => uuidv7(),
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    clientErrorHandler: clientErrorHandler(options.logger),
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    frameworkErrors: (error, request, reply) => sendRouterProblem(options, error, request, reply),
  });
  // Prometheus' scrape every 15 s is a probe too: a root span and an info line each time would bury the requests
  const probes = new Set(options.metrics ? [LIVEZ_PATH, READYZ_PATH, METRICS_PATH] : [LIVEZ_PATH, READYZ_PATH]);
  registerRequestScope(fastify, { logger: options.logger, tracer: options.tracing, probes });
  // before any route's work: a request over the bound costs no parsing, no transaction
  limitRequestsInFlight(fastify, { max: options.maxRequestsInFlight, exempt: probes });
  fastify.removeAllContentTypeParsers();
  // what the JSON body parser refuses in bodies, refused in paths and queries: for every route, with or without a schema
  fastify.addHook('onRequest', async (request) => {
    if (urlHasNul(request.url)) throw requestPartInvalid('URL', [{ path: '/', message: 'must not contain %00 (U+0000, NUL)' }]);
    if (queryNotUtf8(request.url)) throw new HeraldError(HttpErrors.badRequest, 'the query string is not valid: a "%" must start a percent-encoded UTF-8 byte');
  });
  // the bytes, not a string: fastify would decode them leniently, turning what is not UTF-8 into U+FFFD
  const parseJson = jsonBodyParser(fastify.getDefaultJsonParser('error', 'error'), options.maxBodyDepth);
  fastify.addContentTypeParser('application/json', { parseAs: 'buffer' }, parseJson);
  fastify.addContentTypeParser(JSON_SUFFIX_TYPE, { parseAs: 'buffer' }, parseJson);
  fastify.setValidatorCompiler(({ schema, httpPart }) => compileValidator(schema as TSchema, httpPart ?? 'body'));
  fastify.setErrorHandler((error, request, reply) => sendProblem(options, error, request, reply));
  // before any route: every route's methods, for the 405 of a path routed for other methods only
  const allowedMethods = trackAllowedMethods(fastify, { maxParamLength: MAX_PARAM_LENGTH });
  fastify.setNotFoundHandler((request, reply) => sendProblem(options, routeMiss(allowedMethods, request, reply), request, reply));
  // before any route's own hooks (authentication): `/orders/` is no `/orders/:id` with an empty id
  fastify.addHook('onRequest', async (request, reply) => {
    if (hasEmptyParam(request.params)) throw routeMiss(allowedMethods, request, reply);
  });
  fastify.get(LIVEZ_PATH, async () => ({ status: 'ok' }));
  fastify.get(READYZ_PATH, async () => {
    if (readiness.isReady) return { status: 'ready' };
    throw clientWorded(new HeraldError(HttpErrors.unavailable, `not ready: ${readiness.state}`, { retriable: true }));
  });
  if (options.metrics) registerMetrics(fastify, options.metrics);
  return fastify;
}

function sendProblem<Tx>(options: ResolvedGatewayOptions<Tx>, thrown: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  // the request's own stream failed (the client went away mid-body, Node's ECONNRESET "aborted"):
  // fastify's 400, no fault of ours, though its code is no FST_ code that toProblem would map
  const error = thrown instanceof Error && thrown === request.raw.errored ? new HeraldError(HttpErrors.badRequest, 'the request body could not be read', { cause: thrown }) : thrown;
  const problem = toProblem(error, problemInstance(request.url), options.problems);
  const scope = scopeOf(request);
  scope.error = error;
  logFailure(scope.logger, problem, request, error, scope.probe);
  if (problem.status === 503 || problem.code === HttpErrorCodes.idempotencyKeyInFlight) reply.header('retry-after', '1');
  if (problem.status === 401) reply.header('www-authenticate', bearerChallenge(problem.code));
  // RFC 7694 §3: the codings a request may use
  if (problem.code === HttpErrorCodes.contentEncodingUnsupported) reply.header('accept-encoding', 'identity');
  return sendBody(reply, problem);
}

/**
 * Answers a request the router refused before any hook ran: a path that does not percent-decode
 * (400 `bad-request`), a path parameter over {@link MAX_PARAM_LENGTH} (414 `uri-too-long`). No
 * request scope exists for it, so the ids go on the response and the request is logged here.
 */
function sendRouterProblem<Tx>(options: ResolvedGatewayOptions<Tx>, error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const path = request.url.split('?')[0]!;
  const refusal =
    error.code === 'FST_ERR_BAD_URL'
      ? new HeraldError(HttpErrors.badRequest, `the path ${path} is not a valid URL: a "%" must start a percent-encoded UTF-8 byte`, { cause: error })
      : error.code === 'FST_ERR_MAX_PARAM_LENGTH'
        ? new HeraldError(HttpErrors.uriTooLong, `a path parameter is over ${MAX_PARAM_LENGTH} characters`, { cause: error })
        : error;
  const problem = toProblem(refusal, problemInstance(request.url), options.problems);
  let correlationId = request.id;
  try {
    correlationId = parseCorrelationId(request.headers[CORRELATION_ID_HEADER]) ?? request.id;
  } catch {
    // the refusal already names what is wrong; an unusable correlation id is replaced by the request id
  }
  const logger = (heraldLoggerOf(request.log) ?? options.logger.child({ requestId: request.id })).child({ correlationId });
  logFailure(logger, problem, request, refusal, false);
  logger.info('request completed', { method: request.method, url: request.url, statusCode: problem.status });
  reply.header(CORRELATION_ID_HEADER, correlationId).header(REQUEST_ID_HEADER, request.id);
  return sendBody(reply, problem);
}

/**
 * 500s at error; 503s and 504s at warn (an outage of the store, the broker or another service shows
 * as a burst of them, and the log must say why), except a probe's (a starting or draining service
 * answers /readyz 503).
 */
function logFailure(logger: Logger, problem: Problem, request: FastifyRequest, error: unknown, probe: boolean): void {
  const fields = { method: request.method, url: request.url, status: problem.status, code: problem.code, error };
  if (problem.status === 503 || problem.status === 504) {
    if (!probe) logger.warn('http: request failed', fields);
  } else if (problem.status >= 500) logger.error('http: request failed', fields);
}

function sendBody(reply: FastifyReply, problem: Problem): FastifyReply {
  // a Buffer, so the media type goes out exactly as registered (JSON has no charset parameter)
  return reply.code(problem.status).type(PROBLEM_CONTENT_TYPE).send(Buffer.from(JSON.stringify(problem)));
}
