import { ErrorCodes, HeraldError } from '@herald/core';
import { decodeDeadLetterCursor } from '@herald/sql';

/**
 * Where a page of dead letters continues: after the letter at (`txid`, `seq`) in the order pages
 * follow (the adding transaction's id, then the table's `seq`). Both are decimal text, as
 * PostgreSQL's `xid8` and `bigint` read back: a `txid` may exceed what a JS number holds exactly.
 */
export interface PagePosition {
  readonly txid: string;
  readonly seq: string;
}

const PREFIX = 'dl2:';
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const POSITION = /^(0|[1-9][0-9]{0,19})\.(0|[1-9][0-9]{0,18})$/;
const MAX_TXID = 2n ** 64n - 1n;
const MAX_SEQ = 2n ** 63n - 1n;

/** The cursor of the page after `position`: opaque text for callers, `dl2:<txid>.<seq>` in base64url inside. */
export function encodePageCursor(position: PagePosition): string {
  return Buffer.from(`${PREFIX}${position.txid}.${position.seq}`, 'utf8').toString('base64url');
}

/**
 * The position a cursor continues after; `invalid-options` for a cursor this store did not make.
 * A cursor of the release before schema version 14 (`@herald/sql`'s, after a `seq`) continues
 * after that `seq` among the letters added before the upgrade, which version 14 placed first in
 * `seq` order (their `txid` is 0), then with every letter added since; one such a process made
 * after the upgrade (a rolling upgrade) may so repeat letters added since.
 */
export function decodePageCursor(cursor: string): PagePosition {
  if (typeof cursor !== 'string' || !BASE64URL.test(cursor)) throw invalidCursor(cursor);
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!text.startsWith(PREFIX)) return { txid: '0', seq: String(decodeDeadLetterCursor(cursor)) };
  const match = POSITION.exec(text.slice(PREFIX.length));
  // re-encoding must give the same text: base64url decoding silently skips what it cannot read
  if (match === null || BigInt(match[1]!) > MAX_TXID || BigInt(match[2]!) > MAX_SEQ) throw invalidCursor(cursor);
  const position = { txid: match[1]!, seq: match[2]! };
  if (encodePageCursor(position) !== cursor) throw invalidCursor(cursor);
  return position;
}

/** The later of two positions. */
export function laterPosition(a: PagePosition, b: PagePosition): PagePosition {
  const [ta, tb] = [BigInt(a.txid), BigInt(b.txid)];
  if (ta !== tb) return ta > tb ? a : b;
  return BigInt(a.seq) >= BigInt(b.seq) ? a : b;
}

function invalidCursor(cursor: unknown): HeraldError {
  const shown = typeof cursor === 'string' ? JSON.stringify(cursor.length > 40 ? `${cursor.slice(0, 40)}...` : cursor) : typeof cursor;
  return new HeraldError(ErrorCodes.invalidOptions, `dead letters: ${shown} is not a cursor of this store; pass a page's next value as it was returned`);
}
