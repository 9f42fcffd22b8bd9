import { defineErrorCodes } from '@herald/core';

/**
 * Error codes the HTTP layer raises or understands, besides the core's. Each maps to one HTTP
 * status in `PROBLEM_CATALOG` (problem.ts); this package is the only place in Herald that knows statuses.
 * The exception is `listen-failed`: `gateway.listen()` raises it, no request is ever answered with it.
 */
export const { specs: HttpErrors, codes: HttpErrorCodes } = defineErrorCodes({
  badRequest: { code: 'bad-request', retriable: false, meaning: 'The request is malformed in a way no other code names (400).', action: 'Fix the request.' },
  malformedJson: { code: 'malformed-json', retriable: false, meaning: 'The request body is not valid JSON, or its bytes are not UTF-8 (400).', action: 'Send valid JSON, encoded in UTF-8.' },
  bodyTooDeep: {
    code: 'body-too-deep',
    retriable: false,
    meaning: "The JSON body nests arrays and objects deeper than the gateway's maxBodyDepth (default 1,000) (400).",
    action: 'Send a flatter body, or raise maxBodyDepth (a few thousand levels overflow JSON.stringify when the body is stored or published).',
  },
  forbiddenProperty: {
    code: 'forbidden-property',
    retriable: false,
    meaning: 'The JSON body has a property refused on every route as prototype poisoning: `__proto__`, or `constructor` holding a `prototype` property (422, listing where).',
    action: 'Remove or rename the property: merged into an object by a route, it would change the prototype of every object.',
  },
  idempotencyKeyMissing: {
    code: 'idempotency-key-missing',
    retriable: false,
    meaning: 'A command route that requires an Idempotency-Key got none (400).',
    action: 'Send an Idempotency-Key header, a fresh one per intended operation.',
  },
  idempotencyKeyInvalid: {
    code: 'idempotency-key-invalid',
    retriable: false,
    meaning: 'The Idempotency-Key header appears more than once, or is empty, longer than 255 characters or not printable ASCII (400).',
    action: 'Send one key of 1 to 255 printable ASCII characters (a UUID is a good choice).',
  },
  correlationIdInvalid: {
    code: 'correlation-id-invalid',
    retriable: false,
    meaning: 'The X-Correlation-Id header appears more than once, or is not 1 to 128 visible ASCII characters without spaces or commas (400).',
    action: 'Send one X-Correlation-Id of printable characters (a UUID is a good choice), or none: the gateway then makes one and returns it.',
  },
  authenticationRequired: {
    code: 'authentication-required',
    retriable: false,
    meaning: 'The route needs a bearer token and the request has no Authorization header (401).',
    action: 'Send `Authorization: Bearer <access token>`.',
  },
  authorizationMalformed: {
    code: 'authorization-malformed',
    retriable: false,
    meaning: 'The Authorization header is not `Bearer <JWT>` (another scheme, repeated, or not three dot-separated base64url parts) (401).',
    action: 'Send exactly one `Authorization: Bearer <compact JWS>` header.',
  },
  tokenMalformed: {
    code: 'token-malformed',
    retriable: false,
    meaning: 'The bearer token cannot be decoded as a signed JWT: bad base64url, a header or claims set that is not a JSON object, or an unsupported header (401).',
    action: 'Send the access token exactly as the issuer produced it.',
  },
  tokenAlgorithmNotAllowed: {
    code: 'token-algorithm-not-allowed',
    retriable: false,
    meaning: 'The token\'s `alg` is not one the gateway accepts: `none`, or HS256 when no shared secret is configured (the algorithm-confusion attack), or any algorithm outside `algorithms` (401).',
    action: 'Sign tokens with an accepted algorithm (RS256, ES256 or EdDSA by default); configure `hs256Secret` to accept HS256.',
  },
  tokenKeyUnknown: {
    code: 'token-key-unknown',
    retriable: false,
    meaning: 'No configured key, and no key of the JWKS even after refetching it, matches the token\'s `kid` and `alg` (401).',
    action: 'Publish the signing key in the JWKS (or configure it), or sign with a key the gateway knows.',
  },
  tokenSignatureInvalid: {
    code: 'token-signature-invalid',
    retriable: false,
    meaning: 'The token\'s signature does not verify with the key it names (401).',
    action: 'Get a new token from the issuer; a token must not be altered.',
  },
  tokenExpiryMissing: {
    code: 'token-expiry-missing',
    retriable: false,
    meaning: 'The token has no `exp` claim; the gateway accepts no token that never expires (401).',
    action: 'Issue tokens with an `exp` claim.',
  },
  tokenExpired: {
    code: 'token-expired',
    retriable: false,
    meaning: 'The token\'s `exp` has passed, or it was issued (`iat`) longer ago than the gateway\'s `maxTokenAgeMs` (401).',
    action: 'Get a new token (log in again or refresh).',
  },
  tokenTypeInvalid: {
    code: 'token-type-invalid',
    retriable: false,
    meaning: 'The token\'s `typ` header is not the one the gateway\'s `tokenType` requires: another kind of token (an ID token where an access token is expected) (401).',
    action: 'Send an access token of the required type.',
  },
  tokenNotYetValid: {
    code: 'token-not-yet-valid',
    retriable: false,
    meaning: 'The token\'s `nbf` (not before) is in the future (401).',
    action: 'Use the token once it becomes valid; check the issuer\'s clock, or raise `clockToleranceMs` for small skews.',
  },
  tokenAudienceInvalid: {
    code: 'token-audience-invalid',
    retriable: false,
    meaning: 'The token\'s `aud` claim is missing or names none of the audiences the gateway accepts (401).',
    action: 'Request a token for this service\'s audience.',
  },
  tokenIssuerInvalid: {
    code: 'token-issuer-invalid',
    retriable: false,
    meaning: 'The token\'s `iss` claim is missing or is not an issuer the gateway trusts (401).',
    action: 'Get the token from the configured issuer.',
  },
  tokenClaimsInvalid: {
    code: 'token-claims-invalid',
    retriable: false,
    meaning: 'A claim is of the wrong type or unusable: no username claim, roles that are not strings (or contain a comma), a non-numeric time claim (401).',
    action: 'Issue tokens whose username claim is a non-empty string and whose roles claim is an array of strings.',
  },
  forbidden: {
    code: 'forbidden',
    retriable: false,
    meaning: 'The caller is authenticated but holds none of the roles the route requires (403).',
    action: 'Use an account with one of the required roles.',
  },
  keysUnavailable: {
    code: 'keys-unavailable',
    retriable: true,
    meaning: 'The JWKS needed to verify the token could not be fetched (network error, timeout, not 200, not a JWKS) (503).',
    action: 'Retry with backoff; check that the JWKS URL is reachable from the gateway.',
  },
  unauthorized: {
    code: 'unauthorized',
    retriable: false,
    meaning: 'The credentials the request presents are not accepted: a login with an unknown user or a wrong password (401). Map a domain code to it with `errorKinds`.',
    action: 'Send the right credentials.',
  },
  notFound: { code: 'not-found', retriable: false, meaning: 'The resource does not exist, or is not visible to the caller (404).', action: 'Check the id.' },
  methodNotAllowed: {
    code: 'method-not-allowed',
    retriable: false,
    meaning: 'The path is routed, but not for the request\'s method (405); the Allow header lists the methods it takes.',
    action: 'Send the request with one of the methods in Allow.',
  },
  conflict: { code: 'conflict', retriable: false, meaning: 'The request conflicts with the current state (409).', action: 'Read the current state and decide again.' },
  idempotencyKeyInFlight: {
    code: 'idempotency-key-in-flight',
    retriable: true,
    meaning: 'The first request with this Idempotency-Key is still being processed (409, Retry-After).',
    action: 'Retry the same request after Retry-After: it then gets the first request\'s answer.',
  },
  headersTooLarge: {
    code: 'headers-too-large',
    retriable: false,
    meaning: "The request's headers are over the server's limit (Node's maxHeaderSize, 16 KiB by default) (431); the connection is closed.",
    action: 'Send fewer or shorter headers (large cookies or tokens are the usual cause).',
  },
  requestIncomplete: {
    code: 'request-incomplete',
    retriable: true,
    meaning: "The request (headers and body) did not arrive whole within the gateway's requestTimeoutMs (default 30 s) of its first byte (408); the connection is closed.",
    action: 'Send the request again, whole, on a new connection.',
  },
  payloadTooLarge: { code: 'payload-too-large', retriable: false, meaning: 'The body is over the gateway\'s bodyLimitBytes (413).', action: 'Send less, or raise bodyLimitBytes.' },
  uriTooLong: {
    code: 'uri-too-long',
    retriable: false,
    meaning: 'A path segment the route reads as a parameter is over 384 characters as sent (percent-encoded) (414).',
    action: 'Send shorter ids in the path; put long values in the body or the query.',
  },
  unsupportedMediaType: {
    code: 'unsupported-media-type',
    retriable: false,
    meaning: "The body's Content-Type is none the route takes (application/json, unless the route lists its own contentTypes; the 415's Accept lists them), or declares a charset other than UTF-8 (415).",
    action: 'Send one of the types in Accept (application/json by default), with the body encoded in UTF-8.',
  },
  contentEncodingUnsupported: {
    code: 'content-encoding-unsupported',
    retriable: false,
    meaning: 'The body has a Content-Encoding (gzip, br, deflate...) other than identity: the gateway reads bodies as sent and decodes none (415, with Accept-Encoding: identity).',
    action: 'Send the body unencoded, without a Content-Encoding header.',
  },
  idempotencyKeyReused: {
    code: 'idempotency-key-reused',
    retriable: false,
    meaning: 'The Idempotency-Key was already used for a request with a different method, path or body (422).',
    action: 'Use a new key for a new operation; resend the original body to get the original answer.',
  },
  overloaded: {
    code: 'overloaded',
    retriable: true,
    meaning: "The gateway already serves its maxRequestsInFlight requests (default 1,024) and refused this one before any work (503, Retry-After).",
    action: 'Retry after Retry-After, with backoff; if it persists, add instances or raise maxRequestsInFlight (the store must keep up with what it admits).',
  },
  unavailable: { code: 'unavailable', retriable: true, meaning: 'The service cannot take the request now: starting, draining or its store is busy (503).', action: 'Retry with backoff.' },
  badGateway: {
    code: 'bad-gateway',
    retriable: false,
    meaning: "Another service the route asked answered with something unusable (502); @herald/reply's reply-invalid maps to it. Map a domain code to it with `errorKinds`.",
    action: 'Report it with the request id: the other service is at fault, not the request.',
  },
  gatewayTimeout: {
    code: 'gateway-timeout',
    retriable: true,
    meaning: "Another service the route asked did not answer in time (504); @herald/reply's request-timeout maps to it. Map a domain code to it with `errorKinds`.",
    action: 'Retry with backoff if the operation is idempotent (the other service may have done it); check that the other service runs and keeps up.',
  },
  listenFailed: {
    code: 'listen-failed',
    retriable: false,
    meaning: "The gateway could not listen on its host and port: the port is in use or needs privileges, or the host is no address of this machine. Raised by `listen()`, never answered to a request.",
    action: 'Choose a free port (0 lets the system pick one; the examples read it from PORT) or another host; the cause says what the system refused.',
  },
  internal: { code: 'internal', retriable: false, meaning: 'An unexpected error (500); the log has its details under the request id.', action: 'Report it with the request id.' },
});

/** One of {@link HttpErrorCodes}. */
export type HttpErrorCode = (typeof HttpErrorCodes)[keyof typeof HttpErrorCodes];
