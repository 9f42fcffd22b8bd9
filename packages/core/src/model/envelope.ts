import { CoreErrors, ValidationError } from './errorCodes.js';
import { HeraldError } from './errors.js';
import { jsonEscapesUnstorableText, unstorableTextIssues, unstorableTextReason } from './text.js';

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
  for (const name in headers) {
    const value: unknown = headers[name];
    // a value that is no string would make the size NaN and skip the limit (and no broker takes it)
    if (typeof value !== 'string') throw new HeraldError(CoreErrors.invalidOptions, `${type} event: header "${name}" must be a string, got ${typeof value}`);
    headerChars += name.length + value.length;
  }
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

/**
 * `occurredAt` as `Date.prototype.toISOString` writes it: UTC, milliseconds, `Z`; years outside
 * 0000-9999 signed with six digits. Tested only at one of those two lengths, so a long string
 * costs nothing.
 */
const ISO_TIME = /^(?:\d{4}|[+-]\d{6})-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{3}Z$/;

/** The last `occurredAt` found well formed: the events of one batch mostly share their millisecond. */
let lastGoodTime = '';

function isIsoTime(time: string): boolean {
  if (time === lastGoodTime) return true;
  if (!((time.length === 24 || time.length === 27) && ISO_TIME.test(time))) return false;
  lastGoodTime = time;
  return true;
}

const nonEmpty = (value: unknown): boolean => typeof value === 'string' && value.length > 0;
const notString = (field: string): string => `field "${field}" must be a non-empty string`;

/**
 * Why `e` cannot be an envelope, or undefined when it can: the one set of rules for an envelope's
 * fields other than `headers` (see {@link headersProblem}), shared by the publisher, which refuses
 * at publish what {@link decodeEnvelope} would refuse, and the decoder, so no committed event is
 * one its consumers must skip as malformed. Each check is a type test, a short pattern or a
 * native scan (text no store keeps, see `textProblem`); the fields are named one by one, which
 * keeps each property read monomorphic on this per-event path.
 */
export function envelopeProblem(e: { readonly [F in keyof Envelope]?: unknown }): string | undefined {
  return shapeProblem(e) ?? textProblem(e);
}

function shapeProblem(e: { readonly [F in keyof Envelope]?: unknown }): string | undefined {
  if (!nonEmpty(e.id)) return notString('id');
  if (!nonEmpty(e.type)) return notString('type');
  if (!nonEmpty(e.topic)) return notString('topic');
  if (!nonEmpty(e.key)) return notString('key');
  if (!nonEmpty(e.correlationId)) return notString('correlationId');
  if (!nonEmpty(e.occurredAt)) return notString('occurredAt');
  if (!Number.isInteger(e.version) || (e.version as number) < 1) return 'field "version" must be a positive integer';
  if (e.causationId !== null && typeof e.causationId !== 'string') return 'field "causationId" must be a string or null';
  if (!isIsoTime(e.occurredAt as string)) return 'field "occurredAt" must be an ISO 8601 UTC time as Date.toISOString writes it';
  // JSON has no undefined: an envelope whose data is undefined is written without it
  if (e.data === undefined) return 'field "data" is missing';
  return undefined;
}

/**
 * Why a string field, its shape checked, holds text no store keeps as it is (U+0000, a lone
 * surrogate: see `unstorableTextReason`). Each is written to a store: the inbox keys by `id`,
 * parking by `key`, a dead letter keeps `id` and `type`, a follow-up event `correlationId` and
 * `causationId`. On PostgreSQL a NUL makes that write, and the dead letter after it, fail for
 * good, and two ids differing only in a lone surrogate both become U+FFFD: the second event a
 * duplicate, dropped.
 */
function textProblem(e: { readonly [F in keyof Envelope]?: unknown }): string | undefined {
  return (
    fieldTextProblem('id', e.id as string) ??
    fieldTextProblem('type', e.type as string) ??
    fieldTextProblem('topic', e.topic as string) ??
    fieldTextProblem('key', e.key as string) ??
    fieldTextProblem('correlationId', e.correlationId as string) ??
    (e.causationId === null ? undefined : fieldTextProblem('causationId', e.causationId as string))
  );
}

function fieldTextProblem(field: string, value: string): string | undefined {
  const reason = unstorableTextReason(value);
  return reason === undefined ? undefined : `field "${field}" ${reason}`;
}

/** Why `headers` cannot be an envelope's headers, or undefined when it can: an object of string values. */
export function headersProblem(headers: unknown): string | undefined {
  if (typeof headers !== 'object' || headers === null || Array.isArray(headers)) return 'field "headers" must be an object';
  for (const name in headers) {
    const value: unknown = (headers as Record<string, unknown>)[name];
    if (typeof value !== 'string') return `header "${name}" must be a string, got ${value === null ? 'null' : typeof value}`;
  }
  return undefined;
}

const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

/**
 * Parses and structurally checks a record's value as an envelope: one written by
 * {@link encodeEnvelopeValue} takes its headers from the record (`recordHeaders`), one with
 * `headers` of its own ({@link encodeEnvelope}, and every record written before Herald published
 * the binary form) keeps them. Throws a non-retriable `malformed-envelope` error saying what is
 * wrong, also for a string field holding text no store keeps (see {@link envelopeProblem});
 * never returns a half-valid envelope. `data` is not validated here: that is the event
 * definition's job (and {@link unstorableDataError}'s). Header values are taken as they are: a
 * letter or an outbox row keeps headers as one JSON text, in which U+0000 and a lone surrogate
 * are escapes, so any string is kept exactly.
 */
export function decodeEnvelope(wire: string, recordHeaders: Readonly<Record<string, string>> = NO_HEADERS): Envelope {
  // a Kafka tombstone (no value) reaches the port as the empty string
  if (wire === '') throw malformed('the record has no value (a tombstone or an empty value), so it holds no event');
  let parsed: unknown;
  try {
    parsed = JSON.parse(wire);
  } catch (error) {
    throw malformed(`not JSON (${(error as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw malformed('not a JSON object');
  const e = parsed as Record<string, unknown>;
  const problem =
    shapeProblem(e) ?? (mayHoldUnstorableText(wire) ? textProblem(e) : undefined) ?? (e.headers === undefined ? undefined : headersProblem(e.headers));
  if (problem !== undefined) throw malformed(problem);
  if (e.headers === undefined) e.headers = recordHeaders;
  return parsed as Envelope;
}

/**
 * Whether a record's value may hold a string no store keeps (U+0000, a lone surrogate). In JSON
 * text either can only be a `\u` escape: a raw U+0000 is a control character JSON.parse refuses,
 * and a raw lone surrogate has no UTF-8 form (a broker that carries bytes hands over text decoded
 * from UTF-8, and Herald's publisher escapes one, as JSON.stringify does). Most values have no
 * `\u` at all: one native scan, and no field or `data` is looked at. The others have their
 * escapes read (`jsonEscapesUnstorableText`): an ASCII-only writer's accented letters and emoji
 * (an escaped pair) are not walked.
 */
function mayHoldUnstorableText(wire: string): boolean {
  // the consumer asks twice of one value (its fields, then its handler's data): scanned once
  if (wire !== lastEscapedWire) {
    lastEscapedWire = wire;
    lastEscapedUnstorable = wire.includes('\\u') && jsonEscapesUnstorableText(wire);
  }
  return lastEscapedUnstorable;
}

let lastEscapedWire = '';
let lastEscapedUnstorable = false;

/**
 * A `schema-violation` error naming where the decoded `event`'s `data` holds text no store keeps
 * as it is (U+0000, a lone surrogate: see `unstorableTextIssues`; property names included), or
 * undefined; `wire` is the record's value it was decoded from. A handler's write of such a value
 * fails on PostgreSQL (a NUL) or keeps another value (a lone surrogate becomes U+FFFD), so the
 * consumer refuses it before the handler, as the HTTP gateway refuses it in a request. `data` is
 * walked only when the value may hold one (see `mayHoldUnstorableText`), which few do.
 */
export function unstorableDataError(wire: string, event: Envelope): ValidationError | undefined {
  if (!mayHoldUnstorableText(wire)) return undefined;
  const issues = unstorableTextIssues(event.data);
  return issues.length === 0 ? undefined : new ValidationError(event.type, issues);
}

function malformed(why: string): HeraldError {
  return new HeraldError(CoreErrors.malformedEnvelope, `malformed envelope: ${why}`);
}
