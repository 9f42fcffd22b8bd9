/** How deep a chain of causes (and of aggregated errors) is followed before it is cut. */
const MAX_DEPTH = 8;
/** Properties every error gets in a fixed place; the rest of its own enumerable ones follow. */
const KNOWN = new Set(['name', 'message', 'stack', 'cause', 'errors']);

/**
 * An error as JSON: `name`, `message`, its own enumerable properties (a Herald error's `code`,
 * `retriable`, `details`), `stack`, then its `cause` (serialized the same way, down the chain) and
 * an `AggregateError`'s `errors`. An error that is its own ancestor becomes `"[circular]"`; a chain deeper than 8 ends with
 * `"[cause chain cut]"`.
 *
 * @example
 * serializeError(new Error('checkout failed', { cause: new Error('card declined') }))
 * // { name: 'Error', message: 'checkout failed', stack: '...', cause: { name: 'Error', message: 'card declined', stack: '...' } }
 */
export function serializeError(error: Error): Record<string, unknown> {
  return serialize(error, 0, new Set());
}

function serialize(error: Error, depth: number, seen: Set<unknown>): Record<string, unknown> {
  seen.add(error);
  const out: Record<string, unknown> = { name: error.name, message: error.message };
  for (const [key, value] of Object.entries(error)) {
    if (!KNOWN.has(key)) out[key] = value instanceof Error ? nested(value, depth, seen) : value;
  }
  if (error.stack !== undefined) out['stack'] = error.stack;
  if (error.cause !== undefined) out['cause'] = error.cause instanceof Error ? nested(error.cause, depth, seen) : error.cause;
  if (error instanceof AggregateError && Array.isArray(error.errors)) {
    out['errors'] = error.errors.map((inner: unknown) => (inner instanceof Error ? nested(inner, depth, seen) : inner));
  }
  // only an error's ancestors make a cycle: the same error twice side by side is shown twice
  seen.delete(error);
  return out;
}

function nested(error: Error, depth: number, seen: Set<unknown>): unknown {
  if (seen.has(error)) return '[circular]';
  if (depth + 1 >= MAX_DEPTH) return '[cause chain cut]';
  return serialize(error, depth + 1, seen);
}

/** `fields` with every Error value serialized (see {@link serializeError}); the same object when it holds none. */
export function withSerializedErrors(fields: Record<string, unknown>): Record<string, unknown> {
  let out: Record<string, unknown> | undefined;
  for (const key in fields) {
    const value = fields[key];
    if (value instanceof Error) (out ??= { ...fields })[key] = serializeError(value);
  }
  return out ?? fields;
}
