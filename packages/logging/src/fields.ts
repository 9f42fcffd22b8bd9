import { jsonReadyFields, redactLogMessage, renameReservedFields } from '@herald/core';

/**
 * Where a field named like a key pino writes itself goes instead: `fields.level`, as logrus does and
 * `renameReservedFields` names it. pino does not dedupe keys, so `{ level: 'debug' }` on an error
 * line would otherwise write a second `level`, and most parsers keep the last one.
 */
const PREFIX = 'fields.';
/** Keys pino writes on every line (no `pid` or `hostname`: this package writes none). */
const WRITTEN: readonly string[] = ['level', 'time', 'msg'];
/** Keys pino drops from a child's bindings without a word; renamed too, so the field is kept. */
const BINDING_ONLY: readonly string[] = ['serializers', 'formatters', 'customLevels'];
const IN_BINDINGS: readonly string[] = [...WRITTEN, ...BINDING_ONLY];
const RENAMED_IN_BINDINGS = new Set(IN_BINDINGS);

/** A line's fields as written: errors serialized, credentials redacted, pino's own keys renamed `fields.<key>`; the same object when nothing changes. */
export function lineFields(fields: Record<string, unknown>): Record<string, unknown> {
  return jsonReadyFields(renameReservedFields(fields, WRITTEN));
}

/** A child's fields as bound: like {@link lineFields}, and the keys pino drops from bindings renamed as well. */
export function bindingFields(fields: Record<string, unknown>): Record<string, unknown> {
  return jsonReadyFields(renameReservedFields(fields, IN_BINDINGS));
}

/** The name a field called `key` is bound under (see {@link bindingFields}). */
export function bindingKey(key: string): string {
  return RENAMED_IN_BINDINGS.has(key) ? PREFIX + key : key;
}

/** A line's message as written: redacted and cut past 32 KB (see `redactLogMessage`); anything but a string (pino takes a number) as it is. */
export function lineMessage(message: unknown): unknown {
  return typeof message === 'string' ? redactLogMessage(message) : message;
}
