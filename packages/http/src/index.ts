export { createGateway, LIVEZ_PATH, READYZ_PATH } from './gateway.js';
export type { Gateway } from './gateway.js';
export { GATEWAY_DEFAULTS, resolveGatewayOptions } from './options.js';
export type { GatewayApp, GatewayOptions, ResolvedGatewayOptions } from './options.js';
export { METRICS_PATH } from './metrics.js';
export type { GatewayMetrics } from './metrics.js';
export { isJson } from './jsonBody.js';
export type { AwaitEvent, CommandInput, CommandRoute, EventWait, IdempotencyMode, PrepareInput, QueryInput, QueryRoute, RouteResponse } from './routes.js';
export type { IngestInput, IngestRoute } from './ingest.js';
export { CORRELATION_ID_HEADER, REQUEST_ID_HEADER, parseCorrelationId } from './correlation.js';
export { fastifyLogger } from './fastifyLogger.js';
export type { RequestTrace, RequestTracer, TracedRequest } from './requestTracer.js';
export { HttpErrors, HttpErrorCodes } from './errors.js';
export type { HttpErrorCode } from './errors.js';
export { PROBLEM_CATALOG, PROBLEM_CONTENT_TYPE, toProblem } from './problem.js';
export type { Problem, ProblemOptions } from './problem.js';
export {
  IDEMPOTENCY_KEY_HEADER,
  IDEMPOTENT_REPLAYED_HEADER,
  canonicalJson,
  idempotencyKeyOf,
  parseIdempotencyKey,
  requestFingerprint,
} from './idempotencyKey.js';
export { runIdempotent } from './idempotent.js';
export type { IdempotentOutcome, IdempotentRequest, StoredResponse, TransactionalRunner } from './idempotent.js';
export { startIdempotencyPurger } from './purger.js';
export type { Purger, PurgerOptions } from './purger.js';
export { createReadiness } from './readiness.js';
export type { Readiness, ReadinessState } from './readiness.js';
export { compileValidator } from './validation.js';
export { jsonDepth } from './bodyDepth.js';
export type { PartValidator } from './validation.js';
export { jwtAuthenticator } from './jwt.js';
export type { Authenticator, JwtOptions } from './jwt.js';
export type { AsymmetricAlgorithm, JwksSource, JwtKey } from './jwtKeys.js';
export { PRINCIPAL_HEADERS, principalOf, publishAs, scopedIdempotencyKey } from './principal.js';
export type { Principal } from './principal.js';
export { principalOfRequest } from './access.js';
export type { AuthenticationMode, RouteAccess } from './access.js';
