import type { Statement } from '../db.js';
import type { Tables } from '../tables.js';

/** A row of {@link findOutboxHoldback}: the holder's columns are null when it is unknown or hidden. */
export interface HoldbackRow {
  readonly xmin: string;
  readonly held: boolean;
  readonly pid: number | null;
  readonly database: string | null;
  readonly user_name: string | null;
  readonly application: string | null;
  readonly state: string | null;
  readonly prepared: string | null;
  readonly age_ms: string | number | null;
}

/**
 * Whether committed records wait above their watermarks only because a transaction older than
 * them still runs (claims take rows of transactions older than `pg_snapshot_xmin` only), and which
 * transaction that is: the one whose id is the snapshot's xmin, in any database of the server, a
 * session (`pg_stat_activity`, whose columns hide other roles' sessions without pg_read_all_stats)
 * or a prepared transaction. One probe per slot through the relay's index `outbox_slot`.
 */
export function findOutboxHoldback(t: Tables): Statement {
  return {
    name: `${t.statementPrefix}outbox_holdback`,
    text: `WITH x AS (
        SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin,
          (pg_snapshot_xmin(pg_current_snapshot())::text::numeric % 4294967296)::text AS xid
      )
      SELECT x.xmin::text AS xmin,
        EXISTS (
          SELECT 1 FROM ${t.outboxSlots} s CROSS JOIN LATERAL (
            SELECT 1 FROM ${t.outbox} o
            WHERE o.slot = s.slot AND (o.txid, o.seq) > (s.published_txid, s.published_seq) AND o.txid >= x.xmin AND o.published_at IS NULL
            LIMIT 1
          ) h
        ) AS held,
        w.pid, w.database, w.user_name, w.application, w.state, w.prepared, w.age_ms
      FROM x LEFT JOIN LATERAL (
        SELECT a.pid, a.datname::text AS database, a.usename::text AS user_name, a.application_name AS application, a.state,
          NULL::text AS prepared, (extract(epoch FROM now() - a.xact_start) * 1000)::bigint AS age_ms
        FROM pg_stat_activity a WHERE a.backend_xid::text = x.xid
        UNION ALL
        SELECT NULL, p.database::text, p.owner::text, NULL, 'prepared', p.gid, (extract(epoch FROM now() - p.prepared) * 1000)::bigint
        FROM pg_prepared_xacts p WHERE p.transaction::text = x.xid
        LIMIT 1
      ) w ON true`,
    values: [],
  };
}
