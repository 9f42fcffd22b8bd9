import type { DeadLetterBrowser, DeadLetterFilter, DeadLetterStore } from '@herald/core';
import { DEAD_LETTER_COLUMNS, deadLetterRow, resolvedAt, toDeadLetter, type DeadLetterRow } from '@herald/sql';
import { storeReads, type GuardedRead } from '../internal/storeErrors.js';
import { createDeadLetterBrowser } from './deadLetterBrowser.js';
import type { StoreDeps } from './outbox.js';

/** A letter's place in the add order, status and record: what `setStatus` needs to tell whether it may reopen it. */
interface PositionRow {
  readonly id: string;
  readonly seq: number;
  readonly status: string;
  readonly group_name: string;
  readonly topic: string;
  readonly partition: number;
  readonly record_offset: number;
  readonly event_id: string | null;
}

const OPEN: readonly string[] = ['dead', 'parked'];
const PARKING = "policy = 'park-key' AND status IN ('dead', 'parked')";
const IS_KEY_PARKED = 'dead letters: isKeyParked';

/**
 * The parking letters per group, which `isKeyParked` counts again whenever the file changed (under
 * load, at nearly every delivery of a park-key group), from the partial index of parking letters
 * alone. Left to itself SQLite read it through `herald_dead_letters_status`: every open letter of
 * every group, dead letters of other policies included, and the row of each for its policy (2.5 ms
 * per 6,000 open letters, at every delivery).
 */
export const PARKING_COUNTS_SQL = `SELECT group_name, count(*) AS n FROM herald_dead_letters INDEXED BY herald_dead_letters_parked WHERE ${PARKING} GROUP BY group_name`;
const LIST = 'dead letters: list';

/**
 * Dead letters on SQLite, with the browser ability (see `createDeadLetterBrowser`); each method is
 * its own transaction (reads use the read connection). Rows are mapped by `@herald/sql`. An add
 * keeps one open letter per record and group and never changes a stored letter (see
 * `DeadLetterStore.add`): it looks for the id and for the record's open letter in the write
 * transaction that inserts, which no other writer interleaves with; `setStatus` looks for it
 * likewise before it reopens a letter (see `DeadLetterStore.setStatus`). `isKeyParked` runs for
 * every event of a `park-key` group, so it is kept cheap: the number of parking letters per group
 * is cached and re-counted (through a partial index) only when `PRAGMA data_version` says the file
 * changed; a group with none answers from memory, otherwise one indexed lookup answers. SQLite's
 * failures of the reads are the stores' errors naming the method and the file (see `storeReads`).
 */
export function createDeadLetterStore(deps: StoreDeps): DeadLetterStore & DeadLetterBrowser {
  const { writer, reader, runner } = deps;
  const s = {
    insert: writer.prepare(
      `INSERT INTO herald_dead_letters (id, group_name, handler, event_id, event_type, topic, partition, record_offset, key, reason, fingerprint, error, attempts,
         first_failure_at, last_failure_at, envelope, headers, policy, status, resolved_at)
       VALUES (@id, @group_name, @handler, @event_id, @event_type, @topic, @partition, @record_offset, @key, @reason, @fingerprint, @error, @attempts,
         @first_failure_at, @last_failure_at, @envelope, @headers, @policy, @status, @resolved_at)`,
    ),
    byId: writer.prepare<[string], DeadLetterRow>(`SELECT ${DEAD_LETTER_COLUMNS} FROM herald_dead_letters WHERE id = ?`),
    // the record's open letter, through herald_dead_letters_open (its condition word for word); `IS` matches a NULL event id
    openOfRecord: writer.prepare<[string, string, number, number, string | null], DeadLetterRow>(
      `SELECT ${DEAD_LETTER_COLUMNS} FROM herald_dead_letters
       WHERE group_name = ? AND topic = ? AND partition = ? AND record_offset = ? AND event_id IS ? AND status IN ('dead', 'parked') ORDER BY seq LIMIT 1`,
    ),
    positionOf: writer.prepare<[string], PositionRow>('SELECT id, seq, status, group_name, topic, partition, record_offset, event_id FROM herald_dead_letters WHERE id = ?'),
    setStatus: writer.prepare('UPDATE herald_dead_letters SET status = ?, resolved_at = ? WHERE id = ?'),
    dataVersion: storeReads.guard(reader.prepare<[], number>('PRAGMA data_version').pluck(), IS_KEY_PARKED),
    counts: storeReads.guard(
      reader.prepare<[], { group_name: string; n: number }>(PARKING_COUNTS_SQL),
      IS_KEY_PARKED,
    ),
    parked: storeReads.guard(
      reader.prepare<[string, string, string], number>(`SELECT 1 FROM herald_dead_letters WHERE group_name = ? AND topic = ? AND key = ? AND ${PARKING} LIMIT 1`).pluck(),
      IS_KEY_PARKED,
    ),
  };
  const listStatements = new Map<string, GuardedRead<unknown[], DeadLetterRow>>();
  let version = -1;
  let parkingPerGroup = new Map<string, number>();

  function list(filter: DeadLetterFilter) {
    const query = listQuery(filter);
    if (query === undefined) return [];
    let stmt = listStatements.get(query.sql);
    if (!stmt) {
      stmt = storeReads.prepare<DeadLetterRow>(reader, { sql: query.sql, context: LIST });
      if (listStatements.size > 100) listStatements.clear();
      listStatements.set(query.sql, stmt);
    }
    return stmt.all(...query.params).map(toDeadLetter);
  }

  return {
    ...createDeadLetterBrowser(deps),
    add(letter) {
      // one write transaction looks and inserts: writers take turns, so no other add comes between
      return runner.run((scope) => {
        const kept = scope.get(s.byId, [letter.id]) ?? scope.get(s.openOfRecord, [letter.group, letter.topic, letter.partition, letter.offset, letter.eventId]);
        if (kept) return toDeadLetter(kept);
        scope.run(s.insert, [deadLetterRow(letter, deps.clock.now())]);
        return undefined;
      });
    },
    async list(filter = {}) {
      return list(filter);
    },
    async isKeyParked(group, topic, key) {
      const current = s.dataVersion.get()!;
      if (current !== version) {
        // the version only once the counts are read: after a failed count the next call counts again
        parkingPerGroup = new Map(s.counts.all().map((row) => [row.group_name, row.n]));
        version = current;
      }
      if (!parkingPerGroup.get(group)) return false;
      return s.parked.get(group, topic, key) !== undefined;
    },
    setStatus(ids, status) {
      if (ids.length === 0) return Promise.resolve([]);
      return runner.run((scope) => {
        const at = resolvedAt(status, deps.clock.now());
        const left: string[] = [];
        // in the order they were added, in the write transaction: a letter reopened here is the open
        // letter of its record for the next ones, and no other writer comes between
        for (const row of [...new Set(ids)].map((id) => scope.get(s.positionOf, [id])).filter((r) => r !== undefined).sort((a, b) => a.seq - b.seq)) {
          const reopens = OPEN.includes(status) && !OPEN.includes(row.status);
          if (reopens && scope.get(s.openOfRecord, [row.group_name, row.topic, row.partition, row.record_offset, row.event_id])) left.push(row.id);
          else scope.run(s.setStatus, [status, at, row.id]);
        }
        return left;
      });
    },
  };
}

/**
 * The statement of `DeadLetterStore.list`: the letters matching every given field, in the order
 * they were added, at most `limit` (cut to a whole number, none below 0); undefined when `ids` is
 * empty (nothing matches). A group's letters of one key, with or without a status, are read
 * through `herald_dead_letters_key` (migration 13): the park-key path lists them for every
 * delivery of a held key.
 */
export function listQuery(filter: DeadLetterFilter): { readonly sql: string; readonly params: unknown[] } | undefined {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (column: string, value: string | undefined) => {
    if (value === undefined) return;
    where.push(`${column} = ?`);
    params.push(value);
  };
  add('group_name', filter.group);
  add('handler', filter.handler);
  add('key', filter.key);
  add('status', filter.status);
  if (filter.ids) {
    if (filter.ids.length === 0) return undefined;
    where.push(`id IN (${filter.ids.map(() => '?').join(', ')})`);
    params.push(...filter.ids);
  }
  let sql = `SELECT ${DEAD_LETTER_COLUMNS} FROM herald_dead_letters${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY seq`;
  if (filter.limit !== undefined) {
    sql += ' LIMIT ?';
    params.push(Math.max(0, Math.floor(filter.limit)));
  }
  return { sql, params };
}
