import type { SagaInFlightStatus, SagasInFlight } from '@herald/core';
import { toNumber } from '@herald/sql';
import type { Statement } from '../db.js';
import type { Tables } from '../tables.js';

/** A row of {@link countSagasInFlight}; the aggregates are bigints. */
export interface InFlightRow {
  readonly saga: string;
  readonly status: SagaInFlightStatus;
  readonly count: number | string;
  readonly oldest_created_at: number | string;
}

/**
 * The census: per saga and status in flight, how many instances and the oldest first save, in
 * saga then status order by bytes (as on SQLite and in memory, whatever the database's collation).
 * Only the instances in flight are read, from the partial index `sagas_in_flight` (migration 15),
 * whose condition this one repeats word for word.
 */
export function countSagasInFlight(t: Tables): Statement {
  return {
    name: `${t.statementPrefix}sagas_in_flight`,
    text: `SELECT saga, status, count(*) AS count, min(created_at) AS oldest_created_at FROM ${t.sagas}
      WHERE status IN ('running', 'awaiting-start')
      GROUP BY saga, status ORDER BY saga COLLATE "C", status COLLATE "C"`,
    values: [],
  };
}

export function toSagasInFlight(row: InFlightRow): SagasInFlight {
  return { saga: row.saga, status: row.status, count: toNumber(row.count), oldestCreatedAt: toNumber(row.oldest_created_at) };
}
