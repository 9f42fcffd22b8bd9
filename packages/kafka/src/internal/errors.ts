import { CoreErrors, describeThrown, HeraldError } from '@herald/core';
import type { ErrorCodeSpec } from '@herald/core';
import { KafkaErrors } from '../errors.js';

const TOO_LARGE = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE', 'INVALID_RECORD']);
/**
 * Answers about a topic rather than the brokers: a missing topic may be being created (retriable,
 * even after kafkajs gave up retrying); a refused name or access is about the records sent to that
 * topic only (never retriable, so the relay holds those records back and sends the others).
 */
const ABOUT_TOPIC: Record<string, ErrorCodeSpec> = {
  UNKNOWN_TOPIC_OR_PARTITION: KafkaErrors.topicUnavailable,
  INVALID_TOPIC_EXCEPTION: KafkaErrors.topicInvalid,
  TOPIC_AUTHORIZATION_FAILED: KafkaErrors.topicNotAuthorized,
};

/**
 * Answers about a consumer group rather than the brokers. kafkajs 2.2.4 marks all of them not
 * retriable, yet only a refused ACL stays refused: a request refused because the group is
 * rebalancing or the member's generation ended (a commit, typically) succeeds once the member has
 * rejoined, so it is retriable, and says so instead of "broker unavailable".
 */
const ABOUT_GROUP: Record<string, ErrorCodeSpec> = {
  GROUP_AUTHORIZATION_FAILED: KafkaErrors.groupNotAuthorized,
  REBALANCE_IN_PROGRESS: KafkaErrors.groupRebalancing,
  ILLEGAL_GENERATION: KafkaErrors.groupRebalancing,
  UNKNOWN_MEMBER_ID: KafkaErrors.groupRebalancing,
};

/**
 * The brokers refused the client's SASL credentials: kafkajs throws its KafkaJSSASLAuthenticationError
 * (not retriable, and without the protocol error's type) or, from some paths, the protocol error.
 */
const AUTHENTICATION_TYPES = new Set(['SASL_AUTHENTICATION_FAILED', 'UNSUPPORTED_SASL_MECHANISM', 'ILLEGAL_SASL_STATE']);
const isAuthenticationFailure = (error: KafkaLikeError) => error.name === 'KafkaJSSASLAuthenticationError' || (error.type !== undefined && AUTHENTICATION_TYPES.has(error.type));

interface KafkaLikeError {
  name?: string;
  message?: string;
  type?: string;
  retriable?: boolean;
}

/**
 * Turns a kafkajs failure into a HeraldError so no client type escapes the package. Oversized
 * records are `event-too-large` (never retriable); refused SASL credentials are
 * `authentication-failed` (retriable: about the client, not the call); answers about a topic are
 * `topic-unavailable` (retriable), `topic-invalid` or `topic-not-authorized` (never retriable), and
 * `doing` should name the topics, since kafkajs's errors do not; answers about a group are
 * `group-not-authorized` (never retriable) or `group-rebalancing` (retriable), and `doing` should
 * name the group; everything else is `broker-unavailable`, retriable unless kafkajs says otherwise.
 */
export function toHeraldError(error: unknown, doing: string): HeraldError {
  if (error instanceof HeraldError) return error;
  const e = (typeof error === 'object' && error !== null ? error : {}) as KafkaLikeError;
  const cause = rootCause(e);
  const message = `kafka: ${doing} failed: ${describeThrown(error)}`;
  const details = { kafkaError: cause.name, kafkaType: cause.type };
  if (cause.type !== undefined && TOO_LARGE.has(cause.type)) {
    return new HeraldError(CoreErrors.eventTooLarge, message, { retriable: false, cause: error, details });
  }
  // about the client, not the records: never "refused for good", which would make the relay refuse
  // every record of its batch one by one (a SASL handshake each) while the credentials are wrong
  if (causeChain(e).some(isAuthenticationFailure)) return new HeraldError(KafkaErrors.authenticationFailed, message, { cause: error, details });
  const about = cause.type === undefined ? undefined : (ABOUT_TOPIC[cause.type] ?? ABOUT_GROUP[cause.type]);
  if (about) return new HeraldError(about, message, { cause: error, details });
  const retriable = e.name === 'KafkaJSNumberOfRetriesExceeded' || cause.retriable !== false;
  return new HeraldError(CoreErrors.brokerUnavailable, message, { retriable, cause: error, details });
}

function rootCause(error: KafkaLikeError): KafkaLikeError {
  return causeChain(error).at(-1)!;
}

/** `error` and what it wraps (kafkajs nests causes as `cause` or `originalError`), outermost first. */
function causeChain(error: KafkaLikeError): KafkaLikeError[] {
  const chain = [error];
  for (let depth = 0; depth < 10; depth++) {
    const current = chain.at(-1) as { cause?: unknown; originalError?: unknown };
    const next = current.cause ?? current.originalError;
    if (typeof next !== 'object' || next === null) break;
    chain.push(next as KafkaLikeError);
  }
  return chain;
}

/** Whether `error`, or an error it wraps, has the Herald error code `code`. */
export function wrapsCode(error: unknown, code: string): boolean {
  if (typeof error !== 'object' || error === null) return false;
  return causeChain(error as KafkaLikeError).some((e) => (e as { code?: unknown }).code === code);
}

/** The Kafka protocol error types (`NOT_COORDINATOR`, `REBALANCE_IN_PROGRESS`...) anywhere in `error`'s cause chain. */
export function kafkaErrorTypes(error: unknown): Set<string> {
  if (typeof error !== 'object' || error === null) return new Set();
  return new Set(causeChain(error as KafkaLikeError).flatMap((e) => (typeof e.type === 'string' ? [e.type] : [])));
}

/** The error class names (`KafkaJSGroupCoordinatorNotFound`...) in `error`'s cause chain. */
export function kafkaErrorNames(error: unknown): Set<string> {
  if (typeof error !== 'object' || error === null) return new Set();
  return new Set(causeChain(error as KafkaLikeError).flatMap((e) => (typeof (e as { name?: unknown }).name === 'string' ? [(e as { name: string }).name] : [])));
}

/** True when kafkajs reports that the broker lacks an API (the mock cluster lacks several). */
export function isUnsupportedApi(error: unknown): boolean {
  const message = (error as { message?: unknown } | null)?.message;
  return typeof message === 'string' && /does not support the requested API version|not supported/i.test(message);
}
