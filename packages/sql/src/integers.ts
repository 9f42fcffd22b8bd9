/**
 * A column integer as a JavaScript number. SQLite returns numbers; node-postgres returns `bigint`
 * columns as strings (their range exceeds a double's). Herald's integers (offsets, times in ms,
 * sequence numbers) stay far below 2^53, so the conversion is exact.
 */
export function toNumber(value: number | string | bigint): number {
  return typeof value === 'number' ? value : Number(value);
}

/** {@link toNumber} for a nullable column. */
export function toNumberOrNull(value: number | string | bigint | null | undefined): number | null {
  return value === null || value === undefined ? null : toNumber(value);
}
