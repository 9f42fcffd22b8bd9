import * as grpc from '@grpc/grpc-js';
import { CoreErrors, isHeraldError, wellFormedText, type ValidationIssue } from '@herald/core';
import { AnalyticsErrorCodes } from '@herald/analytics';
import { PipelineErrorCodes } from '../errors.js';

/** The trailer grpc carries a `google.rpc.Status` in (the richer error model). */
export const STATUS_DETAILS_KEY = 'grpc-status-details-bin';
const BAD_REQUEST_TYPE = 'type.googleapis.com/google.rpc.BadRequest';

/** Error codes answered INVALID_ARGUMENT, NOT_FOUND; retriable errors are UNAVAILABLE, the rest INTERNAL. */
const INVALID = new Set<string>([CoreErrors.schemaViolation.code, CoreErrors.invalidOptions.code, PipelineErrorCodes.invalidQuery, AnalyticsErrorCodes.invalidQuery]);
const NOT_FOUND = new Set<string>([PipelineErrorCodes.userNotFound]);

/**
 * Turns what a handler threw into a gRPC error: a bad argument is INVALID_ARGUMENT with a
 * `google.rpc.BadRequest` listing each offending field (`events[3].timestamp`) in
 * `grpc-status-details-bin`, an unknown user NOT_FOUND, a retriable failure UNAVAILABLE, anything
 * else INTERNAL (its message is not sent: it may hold internals). The code also travels in the
 * `herald-error-code` trailer. A message quoting a lone surrogate (the path of a key holding one)
 * is sent with U+FFFD in its place: grpc-js percent-encodes the status message, which throws on a
 * lone surrogate and left the call unanswered.
 */
export function toServiceError(thrown: unknown, extra?: grpc.Metadata): Partial<grpc.ServiceError> {
  const metadata = extra ?? new grpc.Metadata();
  const code = isHeraldError(thrown) ? thrown.code : undefined;
  if (code && INVALID.has(code)) {
    const issues = (isHeraldError(thrown) ? (thrown.details?.['issues'] as ValidationIssue[] | undefined) : undefined) ?? [];
    const message = wellFormedText((thrown as Error).message);
    metadata.set('herald-error-code', code);
    metadata.set(STATUS_DETAILS_KEY, encodeStatus(grpc.status.INVALID_ARGUMENT, message, issues.map((i) => ({ field: fieldOf(i.path), description: i.message }))));
    return { code: grpc.status.INVALID_ARGUMENT, details: message, metadata };
  }
  if (code) metadata.set('herald-error-code', code);
  if (code && NOT_FOUND.has(code)) return { code: grpc.status.NOT_FOUND, details: wellFormedText((thrown as Error).message), metadata };
  if (isHeraldError(thrown) && thrown.retriable) return { code: grpc.status.UNAVAILABLE, details: 'service unavailable, retry later', metadata };
  return { code: grpc.status.INTERNAL, details: 'internal error', metadata };
}

/** `/events/3/timestamp` → `events[3].timestamp` (the field path style of google.rpc.BadRequest). */
export function fieldOf(pointer: string): string {
  return pointer
    .split('/')
    .filter(Boolean)
    .map((part, i) => (/^\d+$/.test(part) ? `[${part}]` : `${i === 0 ? '' : '.'}${part}`))
    .join('')
    .replace(/^\./, '');
}

/** One field violation of a `google.rpc.BadRequest`. */
export interface FieldViolation {
  readonly field: string;
  readonly description: string;
}

/**
 * Encodes `google.rpc.Status { code, message, details: [Any(BadRequest { field_violations })] }`
 * (protobuf wire format; five small messages, written out rather than loading googleapis' protos).
 */
export function encodeStatus(code: number, message: string, violations: readonly FieldViolation[]): Buffer {
  const badRequest = Buffer.concat(violations.map((v) => field(1, Buffer.concat([field(1, v.field), field(2, v.description)]))));
  const any = Buffer.concat([field(1, BAD_REQUEST_TYPE), field(2, badRequest)]);
  return Buffer.concat([Buffer.from([0x08]), varint(code), field(2, message), field(3, any)]);
}

/** Reads the field violations of a `google.rpc.Status` written by {@link encodeStatus} (or any server using the same messages). */
export function decodeViolations(status: Buffer): FieldViolation[] {
  const violations: FieldViolation[] = [];
  for (const detail of fields(status).filter((f) => f.number === 3)) {
    const any = fields(detail.bytes);
    if (any.find((f) => f.number === 1)?.bytes.toString('utf8') !== BAD_REQUEST_TYPE) continue;
    for (const violation of fields(any.find((f) => f.number === 2)?.bytes ?? Buffer.alloc(0)).filter((f) => f.number === 1)) {
      const parts = fields(violation.bytes);
      violations.push({ field: parts.find((f) => f.number === 1)?.bytes.toString('utf8') ?? '', description: parts.find((f) => f.number === 2)?.bytes.toString('utf8') ?? '' });
    }
  }
  return violations;
}

function field(number: number, value: string | Buffer): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  return Buffer.concat([varint((number << 3) | 2), varint(bytes.length), bytes]);
}

function varint(value: number): Buffer {
  const out: number[] = [];
  let rest = value >>> 0;
  while (rest > 0x7f) {
    out.push((rest & 0x7f) | 0x80);
    rest >>>= 7;
  }
  out.push(rest);
  return Buffer.from(out);
}

/** The length-delimited fields of a message (varint fields are skipped). */
function fields(message: Buffer): { number: number; bytes: Buffer }[] {
  const out: { number: number; bytes: Buffer }[] = [];
  let at = 0;
  const read = () => {
    let value = 0;
    for (let shift = 0; ; shift += 7) {
      const byte = message[at++]!;
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return value;
    }
  };
  while (at < message.length) {
    const tag = read();
    if ((tag & 7) === 0) read();
    else {
      const length = read();
      out.push({ number: tag >>> 3, bytes: message.subarray(at, at + length) });
      at += length;
    }
  }
  return out;
}
