import { isSecretName, REDACTED, redactText } from './redact.js';

/** How deep fields, errors and causes are followed (plain objects, arrays and causes alike) before the walk stops. */
const MAX_DEPTH = 8;
/** Properties every error gets in a fixed place; the rest of its own enumerable ones follow. */
const KNOWN = new Set(['name', 'message', 'stack', 'cause', 'errors']);
/** The ancestors of a string or a number: none (only objects are added to, and looked up in, a walk's path). */
const NO_ANCESTORS: Set<object> = new Set();

/**
 * An error as JSON: `name`, `message`, its own enumerable properties (a Herald error's `code`,
 * `retriable`, `details`), `stack`, then its `cause` (serialized the same way, down the chain) and
 * an `AggregateError`'s `errors`. Errors inside its properties or its cause (in plain objects and
 * arrays) are serialized too. An error or object that is its own ancestor becomes `"[circular]"`;
 * an error nested deeper than 8 levels becomes `"[cause chain cut]"`. Credentials are written
 * `"[redacted]"`: properties named like one (`authorization`, `password`, `apiKey`, `token`...),
 * and, in any text, what {@link redactText} redacts (an HTTP client's error carries its request's
 * `Authorization` header). The error is not changed; the result is a new object each call.
 *
 * @example
 * serializeError(new Error('checkout failed', { cause: new Error('card declined') }))
 * // { name: 'Error', message: 'checkout failed', stack: '...', cause: { name: 'Error', message: 'card declined', stack: '...' } }
 */
export function serializeError(error: Error): Record<string, unknown> {
  return serialize(error, 0, new Set());
}

/**
 * A log line's fields ready for JSON, as `jsonLogger` and `@herald/logging` write them: every
 * Error among the values serialized (see {@link serializeError}), also inside plain objects,
 * arrays and class instances (as JSON writes them: their `toJSON`, else their own properties),
 * down to 8 levels; credentials written `"[redacted]"`: a value whose field name says it is one
 * (`password`, `apiKey`, `authorization`, `cookie`...: the name's end, in any case) and what
 * {@link redactText} finds in text. The caller's objects are never changed: a container where
 * something changes is copied, the others are not, and `fields` itself comes back when nothing
 * changes. The common line (short strings and numbers) costs a test of each name and each string,
 * no walk and no copy. Cycles met in the walk become `"[circular]"`; data deeper than 8 levels is
 * left as it is, for the logger's stringify.
 *
 * @example
 * jsonReadyFields({ orderId: 'o-1', headers: { authorization: 'Bearer abc' }, error })
 * // { orderId: 'o-1', headers: { authorization: '[redacted]' }, error: { name: 'Error', message: '...', stack: '...' } }
 */
export function jsonReadyFields(fields: Record<string, unknown>): Record<string, unknown> {
  let out: Record<string, unknown> | undefined;
  let path: Set<object> | undefined;
  for (const key in fields) {
    const value = fields[key];
    // the common line holds short strings and numbers: a test of the name and of the text, no walk, no copy
    const ready = field(key, value, 0, typeof value === 'object' && value !== null ? (path ??= new Set()) : NO_ANCESTORS);
    if (ready !== value) (out ??= { ...fields })[key] = ready;
  }
  return out ?? fields;
}

/** The value of a field named `key`: a credential when the name says so, else {@link jsonReady}. */
function field(key: string, value: unknown, depth: number, path: Set<object>): unknown {
  return value !== undefined && value !== null && isSecretName(key) ? REDACTED : jsonReady(value, depth, path);
}

function serialize(error: Error, depth: number, path: Set<object>): Record<string, unknown> {
  path.add(error);
  const out: Record<string, unknown> = { name: error.name, message: jsonReady(error.message, depth, path) };
  for (const [key, value] of Object.entries(error)) if (!KNOWN.has(key)) out[key] = field(key, value, depth + 1, path);
  // the stack repeats the message
  if (error.stack !== undefined) out['stack'] = jsonReady(error.stack, depth, path);
  if (error.cause !== undefined) out['cause'] = jsonReady(error.cause, depth + 1, path);
  if (error instanceof AggregateError && Array.isArray(error.errors)) {
    out['errors'] = error.errors.map((inner: unknown) => jsonReady(inner, depth + 1, path));
  }
  // only ancestors make a cycle: the same error twice side by side is shown twice
  path.delete(error);
  return out;
}

/** `value`, at `depth`, with the errors in it serialized and its credentials redacted; itself when there are none. */
function jsonReady(value: unknown, depth: number, path: Set<object>): unknown {
  if (typeof value === 'string') return redactText(value);
  if (typeof value !== 'object' || value === null) return value;
  if (path.has(value)) return '[circular]';
  if (value instanceof Error) return depth >= MAX_DEPTH ? '[cause chain cut]' : serialize(value, depth, path);
  // deeper data is left for the logger's stringify (cycle-safe in both loggers): the walk is bounded, the data kept
  if (depth >= MAX_DEPTH) return value;
  if (Array.isArray(value)) return walkArray(value, depth, path);
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) return walkObject(value as Record<string, unknown>, depth, path);
  return walkInstance(value, depth, path);
}

/**
 * A class instance, walked as JSON would write it: what its `toJSON` gives (an HTTP client's
 * headers, a Date), else its own enumerable properties. Itself when nothing in it changes, so it
 * is written exactly as before; binary data and collections JSON writes as `{}` are not walked.
 */
function walkInstance(value: object, depth: number, path: Set<object>): unknown {
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer || value instanceof Map || value instanceof Set) return value;
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON !== 'function') return walkObject(value as Record<string, unknown>, depth, path);
  let json: unknown;
  try {
    json = toJSON.call(value);
  } catch {
    return value; // the logger's stringify meets the same error and writes what it can
  }
  if (json === value) return value;
  path.add(value);
  const ready = jsonReady(json, depth, path);
  path.delete(value);
  return ready === json ? value : ready;
}

function walkArray(items: readonly unknown[], depth: number, path: Set<object>): readonly unknown[] {
  path.add(items);
  let out: unknown[] | undefined;
  for (let i = 0; i < items.length; i++) {
    const ready = jsonReady(items[i], depth + 1, path);
    if (ready !== items[i]) (out ??= items.slice())[i] = ready;
  }
  path.delete(items);
  return out ?? items;
}

function walkObject(object: Record<string, unknown>, depth: number, path: Set<object>): Record<string, unknown> {
  path.add(object);
  let out: Record<string, unknown> | undefined;
  for (const key of Object.keys(object)) {
    const ready = field(key, object[key], depth + 1, path);
    // a copy made by spread holds `__proto__` as its own property, so assigning it is safe
    if (ready !== object[key]) (out ??= { ...object })[key] = ready;
  }
  path.delete(object);
  return out ?? object;
}
