import type { SqlTx } from '@herald/core';

/** Windows of {@link countInRiderWindow}. */
export interface RiderWindowOptions {
  /** The tumbling window a rule counts in, aligned to the epoch (10 minutes: 12:00–12:10, 12:10–12:20…). */
  readonly windowMs: number;
  /** How far behind a rider's newest event (of the rule) an event may come and still be counted. */
  readonly graceMs: number;
}

/** One booking's fact a rider rule counts: a failed payment, a booking made; `at` is its event time. */
export interface RiderFact {
  readonly rule: string;
  readonly riderId: string;
  readonly bookingId: string;
  readonly at: number;
}

/** What counting a fact did. */
export type Counted =
  /** The fact is in its window now; `bookingIds` are the window's facts so far, oldest first. */
  | { readonly outcome: 'counted'; readonly windowStart: number; readonly windowEnd: number; readonly bookingIds: readonly string[] }
  /** This booking's fact was counted before (delivered again, under any event id): nothing changed. */
  | { readonly outcome: 'already-counted' }
  /** Its window ended more than the grace before the rider's newest event: not counted. */
  | { readonly outcome: 'late'; readonly newestAt: number };

/** The start of the tumbling window of `windowMs` that holds `at`. */
export function windowStartOf(at: number, windowMs: number): number {
  return at - (((at % windowMs) + windowMs) % windowMs);
}

/**
 * Counts one rider's fact in its window of event time, in the handler's transaction, and returns
 * the window's facts. A rider's events of a rule may come from several partitions at once (bookings
 * are keyed by region), so the count is made under the rider's row in `fraud_rider_marks`, locked
 * first (PostgreSQL: two transactions of one rider take turns, and the second counts what the first
 * committed; SQLite has one writer anyway): whatever the order they are handled in, a window ends
 * up with the same facts, so a rule raises the same alerts. A booking's fact is kept once (its
 * primary key), so a redelivery under another event id counts nothing twice, and rolls back with
 * the inbox mark if the handler fails. Facts of windows that ended more than `graceMs` before the
 * rider's newest are deleted; one that late is refused (`late`), the only case where the order of
 * delivery changes an outcome.
 */
export async function countInRiderWindow(tx: SqlTx, fact: RiderFact, options: RiderWindowOptions): Promise<Counted> {
  const { rule, riderId, bookingId, at } = fact;
  await tx.execute(
    `INSERT INTO fraud_rider_marks (rule, rider_id, newest_at) VALUES ($1, $2, $3)
     ON CONFLICT (rule, rider_id) DO UPDATE SET newest_at = CASE WHEN excluded.newest_at > fraud_rider_marks.newest_at THEN excluded.newest_at ELSE fraud_rider_marks.newest_at END`,
    [rule, riderId, at],
  );
  const [mark] = await tx.query<{ newest_at: number }>('SELECT newest_at FROM fraud_rider_marks WHERE rule = $1 AND rider_id = $2', [rule, riderId]);
  const newestAt = mark!.newest_at;
  // the first window still kept: every window ending more than the grace before the newest is over
  const keptFrom = windowStartOf(newestAt - options.graceMs, options.windowMs);
  if (at < keptFrom) return { outcome: 'late', newestAt };
  const fresh = await tx.execute('INSERT INTO fraud_rider_events (rule, booking_id, rider_id, at) VALUES ($1, $2, $3, $4) ON CONFLICT (rule, booking_id) DO NOTHING', [rule, bookingId, riderId, at]);
  if (fresh === 0) return { outcome: 'already-counted' };
  await tx.execute('DELETE FROM fraud_rider_events WHERE rule = $1 AND rider_id = $2 AND at < $3', [rule, riderId, keptFrom]);
  const windowStart = windowStartOf(at, options.windowMs);
  const windowEnd = windowStart + options.windowMs;
  const rows = await tx.query<{ booking_id: string }>(
    'SELECT booking_id FROM fraud_rider_events WHERE rule = $1 AND rider_id = $2 AND at >= $3 AND at < $4 ORDER BY at, booking_id',
    [rule, riderId, windowStart, windowEnd],
  );
  return { outcome: 'counted', windowStart, windowEnd, bookingIds: rows.map((r) => r.booking_id) };
}
