import { ErrorCodes, HeraldError, type DeadLetterPageRequest, type DeadLetterQuery, type DeadLetterStatus } from '@herald/core';
import { decodeDeadLetterCursor, pageLimit } from './deadLetterCursor.js';

/** A WHERE clause (empty when nothing narrows) and its parameters, `$1, $2...` in order. */
export interface SqlWhere {
  readonly sql: string;
  readonly params: readonly unknown[];
}

const STATUSES: readonly DeadLetterStatus[] = ['dead', 'parked', 'redriven', 'discarded'];

/** Query fields compared for equality, and their columns. */
const EQUALS = [
  ['group', 'group_name'],
  ['handler', 'handler'],
  ['topic', 'topic'],
  ['key', 'key'],
  ['eventType', 'event_type'],
  ['reason', 'reason'],
  ['fingerprint', 'fingerprint'],
] as const satisfies readonly (readonly [keyof DeadLetterQuery, string])[];

/**
 * The WHERE clause selecting the dead letters a query means, in SQL that SQLite and PostgreSQL
 * both run, with positional `$n` parameters (SQLite's adapter rewrites them as `?`). Every field
 * narrows: equality on the text fields, `status` one value or a list (an empty list matches
 * nothing), `since` inclusive and `until` exclusive on `last_failure_at` (bound as whole ms). With
 * `after`, only rows whose `seq` is greater (the rest of a paged read). Fields of the wrong type,
 * unknown statuses and non-finite times throw `invalid-options`; fields that are not query fields
 * (a page's `cursor`, `limit`) are ignored.
 *
 * @example
 * const where = deadLetterWhere({ group: 'billing', status: ['dead', 'parked'] });
 * // where.sql: "WHERE group_name = $1 AND status IN ($2, $3)"
 * const rows = db.query(`SELECT count(*) AS n FROM herald_dead_letters ${where.sql}`, where.params);
 */
export function deadLetterWhere(query: DeadLetterQuery = {}, options: { readonly after?: number | null } = {}): SqlWhere {
  const conditions: string[] = [];
  const params: unknown[] = [];
  const param = (value: unknown): string => {
    params.push(value);
    return `$${params.length}`;
  };
  for (const [field, column] of EQUALS) {
    const value: unknown = query[field];
    if (value === undefined) continue;
    if (typeof value !== 'string') throw invalid(`${field} must be a string, got ${describe(value)}`);
    conditions.push(`${column} = ${param(value)}`);
  }
  const statuses = statusList(query.status);
  if (statuses !== undefined) {
    if (statuses.length === 0) conditions.push('1 = 0');
    else if (statuses.length === 1) conditions.push(`status = ${param(statuses[0])}`);
    else conditions.push(`status IN (${statuses.map(param).join(', ')})`);
  }
  if (query.since !== undefined) conditions.push(`last_failure_at >= ${param(time('since', query.since))}`);
  if (query.until !== undefined) conditions.push(`last_failure_at < ${param(time('until', query.until))}`);
  if (options.after !== undefined && options.after !== null) conditions.push(`seq > ${param(options.after)}`);
  return { sql: conditions.length === 0 ? '' : `WHERE ${conditions.join(' AND ')}`, params };
}

/** A page request taken apart: where its rows are and how many it wants (see {@link deadLetterWhere}, `pageLimit`). */
export interface DeadLetterPageQuery {
  readonly where: SqlWhere;
  readonly limit: number;
}

/**
 * The WHERE clause and page size of a `DeadLetterBrowser.page` request: the query's letters after
 * the cursor's position. Read `limit + 1` rows in `seq` order and give them to `toDeadLetterPage`,
 * which tells from the extra row whether a next page exists.
 */
export function deadLetterPageQuery(request: DeadLetterPageRequest = {}): DeadLetterPageQuery {
  const limit = pageLimit(request.limit);
  const after = request.cursor === undefined ? null : decodeDeadLetterCursor(request.cursor);
  return { where: deadLetterWhere(request, { after }), limit };
}

/** The distinct statuses asked for, or undefined for all. */
function statusList(status: DeadLetterQuery['status']): readonly DeadLetterStatus[] | undefined {
  if (status === undefined) return undefined;
  const list: readonly unknown[] = Array.isArray(status) ? status : [status];
  for (const value of list) {
    if (!STATUSES.includes(value as DeadLetterStatus)) throw invalid(`status must be one of ${STATUSES.join(', ')}, got ${describe(value)}`);
  }
  return [...new Set(list as DeadLetterStatus[])];
}

/**
 * A time bound as a whole number of ms, the type of the column it is compared with: PostgreSQL
 * refuses a fractional or out-of-range `bigint` parameter. Rounding up changes no answer, the stored
 * times being whole (`t >= x` is `t >= ceil(x)`, `t < x` is `t < ceil(x)`), nor does holding the bound
 * to the safe integer range, which holds every time a `Date` can.
 */
function time(field: 'since' | 'until', value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw invalid(`${field} must be a time in ms, got ${describe(value)}`);
  return Math.min(Math.max(Math.ceil(value), Number.MIN_SAFE_INTEGER), Number.MAX_SAFE_INTEGER);
}

function describe(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : typeof value === 'number' ? String(value) : value === null ? 'null' : typeof value;
}

function invalid(message: string): HeraldError {
  return new HeraldError(ErrorCodes.invalidOptions, `dead letter query: ${message}`);
}
