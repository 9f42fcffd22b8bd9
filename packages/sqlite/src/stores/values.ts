/** A value better-sqlite3 can bind. */
export type SqlValue = number | string | bigint | Buffer | null;

/**
 * Converts a parameter to what SQLite stores: booleans become 1/0 (SQLite has no boolean),
 * `undefined` becomes NULL, dates their ISO-8601 text, byte arrays blobs, and other objects
 * (arrays, plain objects) their JSON text, as node-postgres does for json columns.
 */
export function toSqlValue(value: unknown): SqlValue {
  switch (typeof value) {
    case 'number':
    case 'string':
    case 'bigint':
      return value;
    case 'boolean':
      return value ? 1 : 0;
    case 'undefined':
      return null;
    case 'object':
      if (value === null || Buffer.isBuffer(value)) return value;
      if (value instanceof Date) return value.toISOString();
      if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
      return JSON.stringify(value);
    default:
      throw new TypeError(`cannot bind a ${typeof value} as an SQL parameter`);
  }
}
