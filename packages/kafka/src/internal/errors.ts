import { ErrorCodes, HeraldError } from '@herald/core';

const TOO_LARGE = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE', 'INVALID_RECORD']);

interface KafkaLikeError {
  name?: string;
  message?: string;
  type?: string;
  retriable?: boolean;
}

/**
 * Turns a kafkajs failure into a HeraldError so no client type escapes the package. Oversized
 * records are `event-too-large` (never retriable); everything else is `broker-unavailable`,
 * retriable unless kafkajs says otherwise.
 */
export function toHeraldError(error: unknown, doing: string): HeraldError {
  if (error instanceof HeraldError) return error;
  const e = (typeof error === 'object' && error !== null ? error : {}) as KafkaLikeError;
  const cause = rootCause(e);
  const message = `kafka: ${doing} failed: ${e.message ?? String(error)}`;
  const details = { kafkaError: cause.name, kafkaType: cause.type };
  if (cause.type !== undefined && TOO_LARGE.has(cause.type)) {
    return new HeraldError(ErrorCodes.eventTooLarge, message, { retriable: false, cause: error, details });
  }
  const retriable = e.name === 'KafkaJSNumberOfRetriesExceeded' || cause.retriable !== false;
  return new HeraldError(ErrorCodes.brokerUnavailable, message, { retriable, cause: error, details });
}

function rootCause(error: KafkaLikeError): KafkaLikeError {
  let current = error;
  for (let depth = 0; depth < 10; depth++) {
    const next = (current as { cause?: unknown; originalError?: unknown }).cause ?? (current as { originalError?: unknown }).originalError;
    if (typeof next !== 'object' || next === null) break;
    current = next as KafkaLikeError;
  }
  return current;
}

/** True when kafkajs reports that the broker lacks an API (the mock cluster lacks several). */
export function isUnsupportedApi(error: unknown): boolean {
  const message = (error as { message?: unknown } | null)?.message;
  return typeof message === 'string' && /does not support the requested API version|not supported/i.test(message);
}
