import type { DeadLetterPage, DeadLetterPageRequest } from '@herald/core';
import { deadLetterWhere, pageLimit, toDeadLetter, type DeadLetterRow } from '@herald/sql';
import type { Statement } from '../db.js';
import type { Tables } from '../tables.js';
import { columnQuery, exactRow, LETTER_COLUMNS, type ColumnBytes } from './letterColumns.js';
import { decodePageCursor, encodePageCursor, laterPosition, type PagePosition } from './pageCursor.js';

/** A page's statement, its size, and the position its cursor continued after (none on the first page). */
export interface PagePlan {
  readonly statement: Statement;
  readonly limit: number;
  readonly after: PagePosition | null;
}

/**
 * A row the page statement reads: a letter, its position, whether it lies below the snapshot's
 * watermark (`settled`), and the watermark, as text.
 */
export type PageRow = DeadLetterRow & ColumnBytes & { readonly txid: string; readonly seq: string; readonly settled: boolean; readonly watermark: string };

/**
 * The statement of one page of the letters a request matches, in the order of the transactions
 * that added them (`txid`), then of the adds (`seq`), after the cursor's position: the first
 * `limit + 1` letters, each telling whether it lies below the watermark (see {@link toPage}).
 *
 * A `seq` is drawn when a letter is inserted, not when it commits, so a page in `seq` order could
 * pass a letter whose transaction was still open and commit it behind the cursor, never to be
 * shown. The watermark is the oldest transaction running when the statement's snapshot was taken
 * (`pg_snapshot_xmin`): no letter can be committed below it any more, so what lies below it never
 * changes. Pages show only such letters; those of newer transactions, committed or not, wait for
 * the watermark to pass them, which it does as soon as the older transactions end. A page reads
 * at most `limit + 1` letters through an index in this order, and never waits for a transaction.
 *
 * The WHERE clause comes from `@herald/sql`, which refuses bad limits and query fields with
 * `invalid-options` before anything is sent, with the conditions `columnQuery` adds (a key matches
 * exactly); rows are read with `LETTER_COLUMNS`, for `exactRow`. Unnamed: the text depends on
 * which fields the request has. It orders by `d.txid`: a bare `txid` would name the text column
 * the statement reads, and order ids as text.
 */
export function pageDeadLetters(t: Tables, request: DeadLetterPageRequest): PagePlan {
  const limit = pageLimit(request.limit);
  const after = request.cursor === undefined ? null : decodePageCursor(request.cursor);
  const columns = columnQuery(request);
  const where = columns.narrow(deadLetterWhere(columns.query));
  const values = [...where.params];
  const conditions = where.sql === '' ? [] : [where.sql.slice('WHERE '.length)];
  if (after !== null) {
    values.push(after.txid, after.seq);
    conditions.push(`(txid, seq) > ($${values.length - 1}::xid8, $${values.length}::bigint)`);
  }
  values.push(limit + 1);
  const watermark = 'pg_snapshot_xmin(pg_current_snapshot())';
  return {
    statement: {
      text: `SELECT txid::text AS txid, seq, txid < ${watermark} AS settled, ${watermark}::text AS watermark, ${LETTER_COLUMNS}
        FROM ${t.deadLetters} AS d ${conditions.length === 0 ? '' : `WHERE ${conditions.join(' AND ')}`}
        ORDER BY d.txid, d.seq LIMIT $${values.length}`,
      values,
    },
    limit,
    after,
  };
}

/**
 * The page the rows of {@link pageDeadLetters} make: its letters below the watermark (the rows
 * are in order, so these come first), at most `limit`. With more of them than fit, it continues
 * after its last letter. Otherwise every matching letter below the watermark is shown: when a
 * committed one lies above it, the page continues from the watermark (its `seq` 0 comes before
 * every letter's, `seq` counting from 1), so the next page takes that letter once the older
 * transactions ended; when none does, this is the last page. The position never moves back: a
 * replica's snapshot may lag the one the cursor was made with.
 */
export function toPage(rows: readonly PageRow[], plan: PagePlan): DeadLetterPage {
  const settled = rows.filter((row) => row.settled);
  const letters = settled.slice(0, plan.limit).map((row) => toDeadLetter(exactRow(row)));
  if (settled.length > plan.limit) {
    const last = settled[plan.limit - 1]!;
    return { letters, next: encodePageCursor({ txid: last.txid, seq: String(last.seq) }) };
  }
  if (settled.length === rows.length) return { letters, next: null };
  const watermark = { txid: rows[0]!.watermark, seq: '0' };
  return { letters, next: encodePageCursor(plan.after === null ? watermark : laterPosition(plan.after, watermark)) };
}
