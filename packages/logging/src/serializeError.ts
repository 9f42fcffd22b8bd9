/** How deep fields, errors and causes are followed (plain objects, arrays and causes alike) before the walk stops. */
const MAX_DEPTH = 8;
/** Properties every error gets in a fixed place; the rest of its own enumerable ones follow. */
const KNOWN = new Set(['name', 'message', 'stack', 'cause', 'errors']);

/**
 * An error as JSON: `name`, `message`, its own enumerable properties (a Herald error's `code`,
 * `retriable`, `details`), `stack`, then its `cause` (serialized the same way, down the chain) and
 * an `AggregateError`'s `errors`. Errors inside its properties or its cause (in plain objects and
 * arrays) are serialized too. An error or object that is its own ancestor becomes `"[circular]"`;
 * an error nested deeper than 8 levels becomes `"[cause chain cut]"`.
 *
 * @example
 * serializeError(new Error('checkout failed', { cause: new Error('card declined') }))
 * // { name: 'Error', message: 'checkout failed', stack: '...', cause: { name: 'Error', message: 'card declined', stack: '...' } }
 */
export function serializeError(error: Error): Record<string, unknown> {
  return serialize(error, 0, new Set());
}

/**
 * `fields` with every Error among its values serialized (see {@link serializeError}), also inside
 * plain objects and arrays, down to 8 levels; the same object when it holds none, and containers
 * holding none are not copied.
 */
export function withSerializedErrors(fields: Record<string, unknown>): Record<string, unknown> {
  let out: Record<string, unknown> | undefined;
  let path: Set<object> | undefined;
  for (const key in fields) {
    const value = fields[key];
    // the common line holds only strings and numbers: no walk, no copy, no allocation
    if (typeof value !== 'object' || value === null) continue;
    const ready = jsonReady(value, 0, (path ??= new Set()));
    if (ready !== value) (out ??= { ...fields })[key] = ready;
  }
  return out ?? fields;
}

function serialize(error: Error, depth: number, path: Set<object>): Record<string, unknown> {
  path.add(error);
  const out: Record<string, unknown> = { name: error.name, message: error.message };
  for (const [key, value] of Object.entries(error)) if (!KNOWN.has(key)) out[key] = jsonReady(value, depth + 1, path);
  if (error.stack !== undefined) out['stack'] = error.stack;
  if (error.cause !== undefined) out['cause'] = jsonReady(error.cause, depth + 1, path);
  if (error instanceof AggregateError && Array.isArray(error.errors)) {
    out['errors'] = error.errors.map((inner: unknown) => jsonReady(inner, depth + 1, path));
  }
  // only ancestors make a cycle: the same error twice side by side is shown twice
  path.delete(error);
  return out;
}

/** `value`, at `depth`, with the errors in it serialized; itself when there are none. */
function jsonReady(value: unknown, depth: number, path: Set<object>): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (path.has(value)) return '[circular]';
  if (value instanceof Error) return depth >= MAX_DEPTH ? '[cause chain cut]' : serialize(value, depth, path);
  // deeper data is left for pino's own (cycle-safe) stringify: the walk is bounded, the data kept
  if (depth >= MAX_DEPTH) return value;
  if (Array.isArray(value)) return walkArray(value, depth, path);
  const proto: unknown = Object.getPrototypeOf(value);
  // class instances (Date, Map, Buffer, ...) keep their own toJSON or lack of one
  return proto === Object.prototype || proto === null ? walkObject(value as Record<string, unknown>, depth, path) : value;
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
    const ready = jsonReady(object[key], depth + 1, path);
    // a copy made by spread holds `__proto__` as its own property, so assigning it is safe
    if (ready !== object[key]) (out ??= { ...object })[key] = ready;
  }
  path.delete(object);
  return out ?? object;
}
