import { CoreErrors } from './errorCodes.js';
import { HeraldError } from './errors.js';

/**
 * The unit Herald moves: one event and everything needed to route, order, trace and deduplicate it.
 * It travels as one JSON document; `id` is a UUIDv7, so ids sort by creation time.
 */
export interface Envelope<T = unknown> {
  /** Unique id (UUIDv7). Consumers deduplicate by it; redrives keep it. */
  readonly id: string;
  /** Event type name, e.g. `OrderCreated`. */
  readonly type: string;
  /** Schema version of `data` for this type. */
  readonly version: number;
  /** Topic the event is published to. */
  readonly topic: string;
  /** Partition key: events with one key are delivered in publish order. */
  readonly key: string;
  /** Id shared by every event of one business flow (a saga, a request). */
  readonly correlationId: string;
  /** Id of the event that caused this one, or null for a flow's first event. */
  readonly causationId: string | null;
  /** When the event happened, ISO 8601 UTC. */
  readonly occurredAt: string;
  /** Free-form string headers; W3C `traceparent`/`tracestate` travel here. */
  readonly headers: Readonly<Record<string, string>>;
  /** The event's payload, valid against its schema. */
  readonly data: T;
}

/** Default maximum size of one serialised envelope: 1 MiB, Kafka's default `max.message.bytes`. */
export const DEFAULT_MAX_EVENT_BYTES = 1024 * 1024;

/**
 * Serialises an envelope to one self-contained JSON document, headers included, refusing one larger
 * than `maxBytes` with an `event-too-large` error that names the type, the size and the limit.
 * Publishers write {@link encodeEnvelopeValue} instead (headers beside the value); a consumer reads
 * both forms.
 */
export function encodeEnvelope(envelope: Envelope, maxBytes: number = DEFAULT_MAX_EVENT_BYTES): string {
  return checkedSize(envelope, JSON.stringify(envelope), 0, maxBytes);
}

/**
 * An envelope's record value as Herald publishes it: the envelope without its `headers`, which
 * travel beside the value as the record's headers (CloudEvents' binary mode), so a trace context
 * is stored and moved once, not twice. The size limit counts both, as a broker counts a record.
 * {@link decodeEnvelope} takes the headers back from the record.
 */
export function encodeEnvelopeValue(envelope: Envelope, maxBytes: number = DEFAULT_MAX_EVENT_BYTES): string {
  const { id, type, version, topic, key, correlationId, causationId, occurredAt, headers, data } = envelope;
  let headerChars = 0;
  for (const name in headers) headerChars += name.length + headers[name]!.length;
  const json = JSON.stringify({ id, type, version, topic, key, correlationId, causationId, occurredAt, data });
  return checkedSize(envelope, json, headerChars, maxBytes);
}

function checkedSize(envelope: Envelope, json: string, headerChars: number, maxBytes: number): string {
  // a UTF-16 length is a lower bound of the UTF-8 length; only measure exactly when it may matter
  if ((json.length + headerChars) * 3 > maxBytes) {
    let size = Buffer.byteLength(json, 'utf8');
    if (headerChars > 0) for (const name in envelope.headers) size += Buffer.byteLength(name, 'utf8') + Buffer.byteLength(envelope.headers[name]!, 'utf8');
    if (size > maxBytes) {
      throw new HeraldError(
        CoreErrors.eventTooLarge,
        `${envelope.type} event is ${size} bytes, over the limit of ${maxBytes} bytes`,
        { details: { type: envelope.type, size, maxBytes } },
      );
    }
  }
  return json;
}

const REQUIRED_STRINGS = ['id', 'type', 'topic', 'key', 'correlationId', 'occurredAt'] as const;

const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

/**
 * Parses and structurally checks a record's value as an envelope: one written by
 * {@link encodeEnvelopeValue} takes its headers from the record (`recordHeaders`), one with
 * `headers` of its own ({@link encodeEnvelope}, and every record written before Herald published
 * the binary form) keeps them. Throws a non-retriable `malformed-envelope` error saying what is
 * wrong; never returns a half-valid envelope. `data` is not validated here: that is the event
 * definition's job.
 */
export function decodeEnvelope(wire: string, recordHeaders: Readonly<Record<string, string>> = NO_HEADERS): Envelope {
  let parsed: unknown;
  try {
    parsed = JSON.parse(wire);
  } catch (error) {
    throw malformed(`not JSON (${(error as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw malformed('not a JSON object');
  const e = parsed as Record<string, unknown>;
  for (const field of REQUIRED_STRINGS) {
    if (typeof e[field] !== 'string' || (e[field] as string).length === 0) throw malformed(`field "${field}" must be a non-empty string`);
  }
  if (!Number.isInteger(e.version) || (e.version as number) < 1) throw malformed('field "version" must be a positive integer');
  if (e.causationId !== null && typeof e.causationId !== 'string') throw malformed('field "causationId" must be a string or null');
  if (!('data' in e)) throw malformed('field "data" is missing');
  if (e.headers === undefined) {
    e.headers = recordHeaders;
    return parsed as Envelope;
  }
  if (typeof e.headers !== 'object' || e.headers === null || Array.isArray(e.headers)) throw malformed('field "headers" must be an object');
  return parsed as Envelope;
}

function malformed(why: string): HeraldError {
  return new HeraldError(CoreErrors.malformedEnvelope, `malformed envelope: ${why}`);
}
