import { describeThrown } from './describeThrown.js';
import { binaryNote, itemsLeftOut, MAX_ITEMS, redactedCut } from './largeValues.js';
import { isSecretName, REDACTED, redactText } from './redact.js';

/** How deep fields, errors and causes are followed (plain objects, arrays and causes alike) before the walk stops. */
const MAX_DEPTH = 8;
/** Properties every error gets in a fixed place; the rest of its own enumerable ones follow. */
const KNOWN = new Set(['name', 'message', 'stack', 'cause', 'errors']);
/** What an object or array nested deeper than {@link MAX_DEPTH} is written as. */
const TOO_DEEP = '[too deep]';
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
  try {
    return serialize(error, 0, new Set());
  } catch (failure) {
    // a getter that throws, a revoked proxy: what can be read of it, and why the rest cannot
    return { name: readable(() => error.name), message: readable(() => redactText(error.message)), unreadable: unreadable(failure) };
  }
}

/**
 * A log line's fields ready for JSON, as `jsonLogger` and `@herald/logging` write them: every
 * Error among the values serialized (see {@link serializeError}), also inside plain objects,
 * arrays and class instances (as JSON writes them: their `toJSON`, else their own properties),
 * down to 8 levels; a Map as its `[key, value]` pairs and a Set as its values (JSON writes both
 * `{}`); credentials written `"[redacted]"`: a value whose field name (or string Map key) says it
 * is one (`password`, `apiKey`, `authorization`, `cookie`...: the name's end, in any case; not
 * `key`, an event's partition key) and what {@link redactText} finds in text. The caller's objects are never changed: a container where
 * something changes is copied, the others are not, and `fields` itself comes back when nothing
 * changes. The common line (short strings and numbers) costs a test of each name and each string,
 * no walk and no copy. Cycles met in the walk become `"[circular]"`; objects and arrays deeper
 * than 8 levels `"[too deep]"` (unwalked, they could not be redacted). A line stays within what log
 * backends take (Loki and CloudWatch cap a line at 256 KB, Docker's json-file at 16 KB): binary
 * data (a `Buffer`, a typed array, an `ArrayBuffer`) is written `"[binary: N bytes]"`, never its
 * bytes; a string over 32 KB is cut there, `…[N more characters left out]` after it (redacted
 * before it is cut); an array, a Map or a Set over 1,000 items keeps its first 1,000 and `"[N
 * more items left out]"` last. Never throws: a field that cannot be read (a getter that throws, a revoked proxy)
 * is written `"[unreadable: <why>]"`.
 *
 * @example
 * jsonReadyFields({ orderId: 'o-1', headers: { authorization: 'Bearer abc' }, error })
 * // { orderId: 'o-1', headers: { authorization: '[redacted]' }, error: { name: 'Error', message: '...', stack: '...' } }
 */
export function jsonReadyFields(fields: Record<string, unknown>): Record<string, unknown> {
  try {
    return readyFields(fields);
  } catch (failure) {
    // not even its keys could be listed (a revoked proxy, a proxy whose ownKeys throws)
    return { fields: unreadable(failure) };
  }
}

function readyFields(fields: Record<string, unknown>): Record<string, unknown> {
  let out: Record<string, unknown> | undefined;
  let path: Set<object> | undefined;
  for (const key in fields) {
    let value: unknown;
    let ready: unknown;
    try {
      value = fields[key];
      // the common line holds short strings and numbers: a test of the name and of the text, no walk, no copy
      ready = field(key, value, 0, typeof value === 'object' && value !== null ? (path ??= new Set()) : NO_ANCESTORS);
    } catch (failure) {
      // a getter that throws or a revoked proxy somewhere in it: that field says so, the line is
      // written (a logger must not throw into its caller: a dead-letter step would fail on it)
      ready = unreadable(failure);
      path = undefined;
    }
    if (ready !== value) (out ??= copyOf(fields))[key] = ready;
  }
  return out ?? fields;
}

/** `fields` copied; with a getter that throws among them, key by key, each unreadable one saying so. */
function copyOf(fields: Record<string, unknown>): Record<string, unknown> {
  try {
    return { ...fields };
  } catch {
    const out: Record<string, unknown> = {};
    for (const key in fields) out[key] = readable(() => fields[key]);
    return out;
  }
}

/** What a value that cannot be read is written as: `"[unreadable: <why>]"`. */
function unreadable(failure: unknown): string {
  return `[unreadable: ${describeThrown(failure)}]`;
}

/** `read()`, or {@link unreadable} when reading throws. */
function readable(read: () => unknown): unknown {
  try {
    return read();
  } catch (failure) {
    return unreadable(failure);
  }
}

/** The value of a field named `key`: a credential when the name says so, else {@link jsonReady}. */
function field(key: string, value: unknown, depth: number, path: Set<object>): unknown {
  return value !== undefined && value !== null && isSecretName(key) ? REDACTED : jsonReady(value, depth, path);
}

function serialize(error: Error, depth: number, path: Set<object>): Record<string, unknown> {
  path.add(error);
  try {
    // each part read on its own: one that cannot be read (a getter that throws) says so, the rest is written
    const out: Record<string, unknown> = { name: readable(() => error.name), message: readable(() => jsonReady(error.message, depth, path)) };
    for (const key of Object.keys(error)) if (!KNOWN.has(key)) out[key] = readable(() => field(key, (error as unknown as Record<string, unknown>)[key], depth + 1, path));
    // the stack repeats the message
    const stack = readable(() => error.stack);
    if (stack !== undefined) out['stack'] = jsonReady(stack, depth, path);
    const cause = readable(() => error.cause);
    if (cause !== undefined) out['cause'] = readable(() => jsonReady(cause, depth + 1, path));
    if (error instanceof AggregateError) {
      const errors = readable(() => error.errors);
      if (Array.isArray(errors)) out['errors'] = errors.map((inner: unknown) => readable(() => jsonReady(inner, depth + 1, path)));
    }
    return out;
  } finally {
    // only ancestors make a cycle: the same error twice side by side is shown twice
    path.delete(error);
  }
}

/** `value`, at `depth`, with the errors in it serialized and its credentials redacted; itself when there are none. */
function jsonReady(value: unknown, depth: number, path: Set<object>): unknown {
  if (typeof value === 'string') return redactedCut(value);
  if (typeof value !== 'object' || value === null) return value;
  if (path.has(value)) return '[circular]';
  if (value instanceof Error) return depth >= MAX_DEPTH ? '[cause chain cut]' : serialize(value, depth, path);
  // below the cut nothing is walked, so nothing there could be redacted: it is not written either
  if (depth >= MAX_DEPTH) return TOO_DEEP;
  const binary = binaryNote(value);
  if (binary !== undefined) return binary;
  if (Array.isArray(value)) return walkArray(value, depth, path);
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) return walkObject(value as Record<string, unknown>, depth, path);
  return walkInstance(value, depth, path);
}

/**
 * A class instance, walked as JSON would write it: what its `toJSON` gives (an HTTP client's
 * headers, a Date), else its own enumerable properties. Itself when nothing in it changes, so it
 * is written exactly as before. A Map or a Set without a `toJSON` of its own, which JSON writes as
 * `{}`, is written as an array instead (see {@link walkMap}).
 */
function walkInstance(value: object, depth: number, path: Set<object>): unknown {
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON !== 'function') {
    if (value instanceof Map || value instanceof Set) return walkMap(value, depth, path);
    return walkObject(value as Record<string, unknown>, depth, path);
  }
  let json: unknown;
  try {
    json = toJSON.call(value);
  } catch {
    return value; // the logger's stringify meets the same error and writes what it can
  }
  if (json === value) return value;
  path.add(value);
  try {
    const ready = jsonReady(json, depth, path);
    return ready === json ? value : ready;
  } finally {
    path.delete(value);
  }
}

/** `items` with its first {@link MAX_ITEMS} walked; a longer one cut there, `[N more items left out]` written last. */
function walkArray(items: readonly unknown[], depth: number, path: Set<object>): readonly unknown[] {
  path.add(items);
  try {
    const walked = Math.min(items.length, MAX_ITEMS);
    let out: unknown[] | undefined;
    for (let i = 0; i < walked; i++) {
      const ready = jsonReady(items[i], depth + 1, path);
      if (ready !== items[i]) (out ??= items.slice(0, walked))[i] = ready;
    }
    if (walked < items.length) return [...(out ?? items.slice(0, walked)), itemsLeftOut(items.length)];
    return out ?? items;
  } finally {
    path.delete(items);
  }
}

/**
 * A Map as its `[key, value]` pairs, in order (any key, not only strings, and no two keys merged
 * into one, as an object of entries would), a Set as its values; each walked as an array's items
 * and an object's values are, a value whose key is a string named like a credential redacted, and
 * one over {@link MAX_ITEMS} entries cut there, `[N more items left out]` written last. Always a
 * new array: there is nothing of the original JSON could write.
 */
function walkMap(collection: ReadonlyMap<unknown, unknown> | ReadonlySet<unknown>, depth: number, path: Set<object>): unknown[] {
  path.add(collection);
  try {
    const out: unknown[] = [];
    const isMap = collection instanceof Map;
    for (const [key, value] of collection.entries()) {
      if (out.length === MAX_ITEMS) {
        out.push(itemsLeftOut(collection.size));
        break;
      }
      if (!isMap) out.push(jsonReady(value, depth + 1, path));
      else out.push([jsonReady(key, depth + 1, path), typeof key === 'string' ? field(key, value, depth + 1, path) : jsonReady(value, depth + 1, path)]);
    }
    return out;
  } finally {
    path.delete(collection);
  }
}

function walkObject(object: Record<string, unknown>, depth: number, path: Set<object>): Record<string, unknown> {
  path.add(object);
  try {
    let out: Record<string, unknown> | undefined;
    for (const key of Object.keys(object)) {
      let value: unknown;
      let ready: unknown;
      try {
        value = object[key];
        ready = field(key, value, depth + 1, path);
      } catch (failure) {
        // a getter that throws: that property says so, its siblings are written
        ready = unreadable(failure);
      }
      // a copy made by spread holds `__proto__` as its own property, so assigning it is safe
      if (ready !== value) (out ??= copyOf(object))[key] = ready;
    }
    return out ?? object;
  } finally {
    path.delete(object);
  }
}
