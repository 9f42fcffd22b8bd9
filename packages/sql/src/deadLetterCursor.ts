import { ErrorCodes, HeraldError } from '@herald/core';

/** Page sizes of `DeadLetterBrowser.page`, as the port states them. */
export const DEAD_LETTER_PAGE_LIMITS = { default: 100, max: 1000 } as const;

const PREFIX = 'dl1:';
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const POSITION = /^(0|[1-9][0-9]{0,15})$/;

/**
 * The cursor of the page after the letter at `seq` (the table's insertion sequence): opaque text
 * for callers, `dl1:<seq>` in base64url inside, so a cursor never depends on a query's values.
 * `seq` may be a PostgreSQL `bigint` string.
 */
export function encodeDeadLetterCursor(seq: number | string | bigint): string {
  return Buffer.from(`${PREFIX}${String(seq)}`, 'utf8').toString('base64url');
}

/** The `seq` a cursor made by {@link encodeDeadLetterCursor} continues after; `invalid-options` for anything else. */
export function decodeDeadLetterCursor(cursor: string): number {
  if (typeof cursor !== 'string' || !BASE64URL.test(cursor)) throw invalidCursor(cursor);
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const position = text.startsWith(PREFIX) ? text.slice(PREFIX.length) : '';
  // re-encoding must give the same text: base64url decoding silently skips what it cannot read
  if (!POSITION.test(position) || encodeDeadLetterCursor(position) !== cursor) throw invalidCursor(cursor);
  const seq = Number(position);
  if (!Number.isSafeInteger(seq)) throw invalidCursor(cursor);
  return seq;
}

/** The page size a request asks for: its `limit` (an integer from 1 to 1 000) or 100; `invalid-options` otherwise. */
export function pageLimit(limit: number | undefined): number {
  if (limit === undefined) return DEAD_LETTER_PAGE_LIMITS.default;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > DEAD_LETTER_PAGE_LIMITS.max) {
    throw new HeraldError(ErrorCodes.invalidOptions, `dead letters: page limit must be an integer from 1 to ${DEAD_LETTER_PAGE_LIMITS.max}, got ${String(limit)}`);
  }
  return limit;
}

function invalidCursor(cursor: unknown): HeraldError {
  const shown = typeof cursor === 'string' ? JSON.stringify(cursor.length > 40 ? `${cursor.slice(0, 40)}...` : cursor) : typeof cursor;
  return new HeraldError(ErrorCodes.invalidOptions, `dead letters: ${shown} is not a cursor of this store; pass a page's next value as it was returned`);
}
