import { ErrorCodes, HeraldError, type DeadLetter, type DeadLetterGroup, type DeadLetterQuery, type DeadLetterStatus } from '@herald/core';

const STATUSES: readonly DeadLetterStatus[] = ['dead', 'parked', 'redriven', 'discarded'];
const TEXT_FIELDS = ['group', 'handler', 'topic', 'key', 'eventType', 'reason', 'fingerprint'] as const;
/** Page sizes as `DeadLetterBrowser.page` states them. */
const PAGE = { default: 100, max: 1000 } as const;
const CURSOR = /^memory-dl-(0|[1-9][0-9]{0,15})$/;

/**
 * The predicate of a dead letter query, checked the way the SQL engines check it: text fields
 * compare for equality, `status` is one value or a list (an empty list matches nothing), `since`
 * is inclusive and `until` exclusive on `lastFailureAt`. A malformed field throws `invalid-options`.
 */
export function letterMatcher(query: DeadLetterQuery): (letter: DeadLetter) => boolean {
  for (const field of TEXT_FIELDS) {
    const value: unknown = query[field];
    if (value !== undefined && typeof value !== 'string') throw invalid(`dead letter query: ${field} must be a string, got ${String(value)}`);
  }
  const statuses = query.status === undefined ? undefined : new Set<unknown>(Array.isArray(query.status) ? query.status : [query.status]);
  for (const status of statuses ?? []) {
    if (!STATUSES.includes(status as DeadLetterStatus)) throw invalid(`dead letter query: status must be one of ${STATUSES.join(', ')}, got ${String(status)}`);
  }
  for (const field of ['since', 'until'] as const) {
    const value: unknown = query[field];
    if (value !== undefined && !(typeof value === 'number' && Number.isFinite(value))) throw invalid(`dead letter query: ${field} must be a time in ms, got ${String(value)}`);
  }
  return (letter) =>
    TEXT_FIELDS.every((field) => query[field] === undefined || letter[field] === query[field]) &&
    (statuses === undefined || statuses.has(letter.status)) &&
    (query.since === undefined || letter.lastFailureAt >= query.since) &&
    (query.until === undefined || letter.lastFailureAt < query.until);
}

/** A page's size: 1 to 1 000, 100 when not given; `invalid-options` otherwise. */
export function pageLimit(limit: number | undefined): number {
  if (limit === undefined) return PAGE.default;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > PAGE.max) {
    throw invalid(`memory dead letters: page limit must be an integer from 1 to ${PAGE.max}, got ${String(limit)}`);
  }
  return limit;
}

/** The cursor after the letter stored at `seq`. */
export const encodeCursor = (seq: number): string => `memory-dl-${seq}`;

/** The position a cursor of {@link encodeCursor} continues after; `invalid-options` for anything else. */
export function decodeCursor(cursor: string): number {
  const match = typeof cursor === 'string' ? CURSOR.exec(cursor) : null;
  if (!match || !Number.isSafeInteger(Number(match[1]))) throw invalid(`memory dead letters: ${JSON.stringify(cursor)} is not a cursor of this store`);
  return Number(match[1]);
}

/**
 * Letters (in the order they were added) grouped by (group, handler, fingerprint, reason), in the
 * port's order: largest first, then latest last failure, then by the key. The sample is the latest
 * letter; among equal last failures, the last added.
 */
export function groupLetters(letters: Iterable<DeadLetter>): DeadLetterGroup[] {
  const groups = new Map<string, { key: DeadLetter; count: number; first: number; last: number; sample: DeadLetter }>();
  for (const letter of letters) {
    const id = JSON.stringify([letter.group, letter.handler, letter.fingerprint, letter.reason]);
    const group = groups.get(id);
    if (!group) {
      groups.set(id, { key: letter, count: 1, first: letter.firstFailureAt, last: letter.lastFailureAt, sample: letter });
      continue;
    }
    group.count++;
    group.first = Math.min(group.first, letter.firstFailureAt);
    group.last = Math.max(group.last, letter.lastFailureAt);
    if (letter.lastFailureAt >= group.sample.lastFailureAt) group.sample = letter;
  }
  return [...groups.values()]
    .map(({ key, count, first, last, sample }) => ({
      fingerprint: key.fingerprint,
      reason: key.reason,
      group: key.group,
      handler: key.handler,
      count,
      firstFailureAt: first,
      lastFailureAt: last,
      sample: { id: sample.id, message: sample.error.message },
    }))
    .sort((a, b) => b.count - a.count || b.lastFailureAt - a.lastFailureAt || compare(a.group, b.group) || compare(a.handler, b.handler) || compare(a.fingerprint, b.fingerprint) || compare(a.reason, b.reason));
}

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function invalid(message: string): HeraldError {
  return new HeraldError(ErrorCodes.invalidOptions, message);
}
