import { HeraldError } from '@herald/core';
import { HttpErrors } from './errors.js';

/** The request header a client names its flow with; the gateway answers with the id it used. */
export const CORRELATION_ID_HEADER = 'x-correlation-id';
/** The response header carrying the request's id, the key of its log lines. */
export const REQUEST_ID_HEADER = 'x-request-id';

/**
 * Visible ASCII but the comma: safe in a header, a log line and a SQL column alike. Commas
 * separate the values of a repeated header once joined, so none is allowed in one value.
 */
const CORRELATION_ID = /^[\x21-\x2b\x2d-\x7e]{1,128}$/;

/**
 * Reads an `X-Correlation-Id` header value: 1 to 128 visible ASCII characters (no spaces, no
 * commas), sent once. Returns undefined when the header is absent; throws a `correlation-id-invalid` error
 * (400) when it is present but unusable, rather than replacing it silently: a client that names
 * its flow must learn that the name was not used.
 */
export function parseCorrelationId(header: string | readonly string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (typeof header !== 'string') throw invalid('the X-Correlation-Id header must appear once');
  if (!CORRELATION_ID.test(header)) throw invalid('an X-Correlation-Id must be 1-128 visible ASCII characters, without spaces or commas, sent once');
  return header;
}

function invalid(message: string): HeraldError {
  return new HeraldError(HttpErrors.correlationIdInvalid, message);
}
