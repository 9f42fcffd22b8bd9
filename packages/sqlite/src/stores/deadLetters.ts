import type Database from 'better-sqlite3';
import type { DeadLetter, DeadLetterFilter, DeadLetterStatus, DeadLetterStore } from '@herald/core';
import { headersText, parseHeaders } from '../internal/headers.js';
import type { StoreDeps } from './outbox.js';

interface LetterRow {
  id: string;
  group_name: string;
  handler: string;
  event_id: string | null;
  event_type: string | null;
  topic: string;
  partition: number;
  record_offset: number;
  key: string;
  reason: string;
  fingerprint: string;
  error: string;
  attempts: number;
  first_failure_at: number;
  last_failure_at: number;
  envelope: string;
  headers: string | null;
  policy: DeadLetter['policy'];
  status: DeadLetterStatus;
}

const PARKING = "policy = 'park-key' AND status IN ('dead', 'parked')";

/**
 * Dead letters on SQLite; each method is its own transaction (reads use the read connection).
 * Adding a letter with an id that exists replaces it. `isKeyParked` runs for every event of a
 * `park-key` group, so it is kept cheap: the number of parking letters per group is cached and
 * re-counted (through a partial index) only when `PRAGMA data_version` says the file changed; a
 * group with none answers from memory, otherwise one indexed lookup answers.
 */
export function createDeadLetterStore(deps: StoreDeps): DeadLetterStore {
  const { writer, reader, runner } = deps;
  const s = {
    upsert: writer.prepare(
      `INSERT INTO herald_dead_letters (id, group_name, handler, event_id, event_type, topic, partition, record_offset, key, reason, fingerprint, error, attempts,
         first_failure_at, last_failure_at, envelope, headers, policy, status, resolved_at)
       VALUES (@id, @group, @handler, @eventId, @eventType, @topic, @partition, @offset, @key, @reason, @fingerprint, @error, @attempts,
         @firstFailureAt, @lastFailureAt, @envelope, @headers, @policy, @status, @resolvedAt)
       ON CONFLICT (id) DO UPDATE SET reason = excluded.reason, fingerprint = excluded.fingerprint, error = excluded.error, attempts = excluded.attempts,
         resolved_at = excluded.resolved_at,
         last_failure_at = excluded.last_failure_at, status = excluded.status, policy = excluded.policy`,
    ),
    setStatus: writer.prepare('UPDATE herald_dead_letters SET status = ?, resolved_at = ? WHERE id = ?'),
    dataVersion: reader.prepare<[], number>('PRAGMA data_version').pluck(),
    counts: reader.prepare<[], { group_name: string; n: number }>(`SELECT group_name, count(*) AS n FROM herald_dead_letters WHERE ${PARKING} GROUP BY group_name`),
    parked: reader.prepare<[string, string, string], number>(`SELECT 1 FROM herald_dead_letters WHERE group_name = ? AND topic = ? AND key = ? AND ${PARKING} LIMIT 1`).pluck(),
  };
  const listStatements = new Map<string, Database.Statement<unknown[], LetterRow>>();
  let version = -1;
  let parkingPerGroup = new Map<string, number>();

  function list(filter: DeadLetterFilter): DeadLetter[] {
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
      if (filter.ids.length === 0) return [];
      where.push(`id IN (${filter.ids.map(() => '?').join(', ')})`);
      params.push(...filter.ids);
    }
    let sql = `SELECT * FROM herald_dead_letters${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY seq`;
    if (filter.limit !== undefined) {
      sql += ' LIMIT ?';
      params.push(Math.max(0, Math.floor(filter.limit)));
    }
    let stmt = listStatements.get(sql);
    if (!stmt) {
      stmt = reader.prepare<unknown[], LetterRow>(sql);
      if (listStatements.size > 100) listStatements.clear();
      listStatements.set(sql, stmt);
    }
    return stmt.all(params).map(toLetter);
  }

  return {
    add(letter) {
      return runner.run((scope) => {
        scope.run(s.upsert, [{ ...letter, error: JSON.stringify(letter.error), headers: headersText(letter.headers), resolvedAt: resolvedAt(letter.status, deps.clock.now()) }]);
      });
    },
    async list(filter = {}) {
      return list(filter);
    },
    async isKeyParked(group, topic, key) {
      const current = s.dataVersion.get()!;
      if (current !== version) {
        version = current;
        parkingPerGroup = new Map(s.counts.all().map((row) => [row.group_name, row.n]));
      }
      if (!parkingPerGroup.get(group)) return false;
      return s.parked.get(group, topic, key) !== undefined;
    },
    setStatus(ids, status) {
      if (ids.length === 0) return Promise.resolve();
      return runner.run((scope) => {
        const at = resolvedAt(status, deps.clock.now());
        for (const id of ids) scope.run(s.setStatus, [status, at, id]);
      });
    },
  };
}

function toLetter(row: LetterRow): DeadLetter {
  return {
    id: row.id,
    group: row.group_name,
    handler: row.handler,
    eventId: row.event_id,
    eventType: row.event_type,
    topic: row.topic,
    partition: row.partition,
    offset: row.record_offset,
    key: row.key,
    reason: row.reason,
    fingerprint: row.fingerprint,
    error: JSON.parse(row.error) as DeadLetter['error'],
    attempts: row.attempts,
    firstFailureAt: row.first_failure_at,
    lastFailureAt: row.last_failure_at,
    envelope: row.envelope,
    headers: parseHeaders(row.headers),
    policy: row.policy,
    status: row.status,
  };
}

/** Redriven and discarded letters are resolved: retention deletes them some time after this. */
function resolvedAt(status: DeadLetterStatus, now: number): number | null {
  return status === 'redriven' || status === 'discarded' ? now : null;
}
