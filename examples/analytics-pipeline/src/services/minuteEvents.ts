import type { SqlTx } from '@herald/core';
import type { AnalyticsEvent as StoredEvent } from '@herald/analytics';

/**
 * The events of the open minutes, one row each, in the app's store (next to the window state):
 * the consumer's minute aggregation keeps only a count, so a batch writes its own events and no
 * more, however many the minute already holds (an aggregate holding the minute's events was
 * rewritten whole, as one JSON value, by every batch that touched it). `copies` counts the
 * deliveries of one event id in its minute that were on time: a late delivery takes its own copy
 * back, so a duplicate arriving late never removes the row of the copy that was on time.
 */
export const MINUTE_EVENTS_TABLE = 'analytics_minute_events';

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS ${MINUTE_EVENTS_TABLE} (
     user_id TEXT NOT NULL,
     window_start BIGINT NOT NULL,
     event_id TEXT NOT NULL,
     event TEXT NOT NULL,
     copies INTEGER NOT NULL,
     PRIMARY KEY (user_id, window_start, event_id)
   )`,
];

/** Creates the table if missing (idempotent). */
export async function createMinuteEventsTable(tx: SqlTx): Promise<void> {
  for (const statement of SCHEMA) await tx.execute(statement);
}

/** Where an event is held: its user and the start of its minute. */
export interface MinuteOf {
  readonly userId: string;
  readonly windowStart: number;
}

/** Holds an event in its minute, in the batch's transaction (a second delivery of its id only adds a copy). */
export async function holdEvent(tx: SqlTx, at: MinuteOf, event: StoredEvent): Promise<void> {
  await tx.execute(
    `INSERT INTO ${MINUTE_EVENTS_TABLE} (user_id, window_start, event_id, event, copies) VALUES ($1, $2, $3, $4, 1)
     ON CONFLICT (user_id, window_start, event_id) DO UPDATE SET copies = ${MINUTE_EVENTS_TABLE}.copies + 1`,
    [at.userId, at.windowStart, event.eventId, JSON.stringify(event)],
    { prepare: true },
  );
}

/** Rows of {@link holdDeliveries} per statement: 5 parameters each, far below either database's limit. */
const ROWS_PER_INSERT = 500;

/**
 * Holds a minute's deliveries as {@link holdEvent} would one by one (a row per event id, with the
 * first delivery's content, a copy per delivery), in a statement per {@link ROWS_PER_INSERT} event
 * ids instead of one per delivery.
 */
export async function holdDeliveries(tx: SqlTx, at: MinuteOf, deliveries: readonly StoredEvent[]): Promise<void> {
  const byId = new Map<string, { event: StoredEvent; copies: number }>();
  for (const d of deliveries) {
    const held = byId.get(d.eventId);
    if (held) held.copies += 1;
    else byId.set(d.eventId, { event: d, copies: 1 });
  }
  const rows = [...byId.values()];
  for (let from = 0; from < rows.length; from += ROWS_PER_INSERT) {
    const chunk = rows.slice(from, from + ROWS_PER_INSERT);
    await tx.execute(
      `INSERT INTO ${MINUTE_EVENTS_TABLE} (user_id, window_start, event_id, event, copies)
       VALUES ${chunk.map((_, i) => `($${i * 5 + 1}, $${i * 5 + 2}, $${i * 5 + 3}, $${i * 5 + 4}, $${i * 5 + 5})`).join(', ')}
       ON CONFLICT (user_id, window_start, event_id) DO UPDATE SET copies = ${MINUTE_EVENTS_TABLE}.copies + excluded.copies`,
      chunk.flatMap(({ event, copies }) => [at.userId, at.windowStart, event.eventId, JSON.stringify(event), copies]),
    );
  }
}

/** Takes back the copy a late delivery of `eventId` held in its minute (the row goes with its last copy). */
export async function releaseLate(tx: SqlTx, at: MinuteOf, eventId: string): Promise<void> {
  const params = [at.userId, at.windowStart, eventId];
  await tx.execute(`UPDATE ${MINUTE_EVENTS_TABLE} SET copies = copies - 1 WHERE user_id = $1 AND window_start = $2 AND event_id = $3`, params, { prepare: true });
  await tx.execute(`DELETE FROM ${MINUTE_EVENTS_TABLE} WHERE user_id = $1 AND window_start = $2 AND event_id = $3 AND copies <= 0`, params, { prepare: true });
}

/** The events held in a minute, by event id. */
export async function minuteEvents(tx: SqlTx, at: MinuteOf): Promise<StoredEvent[]> {
  const rows = await tx.query<{ event: string }>(`SELECT event FROM ${MINUTE_EVENTS_TABLE} WHERE user_id = $1 AND window_start = $2 ORDER BY event_id`, [at.userId, at.windowStart], { prepare: true });
  return rows.map((row) => JSON.parse(row.event) as StoredEvent);
}

/** Forgets a minute's events (once they are in the analytics store). */
export async function dropMinute(tx: SqlTx, at: MinuteOf): Promise<void> {
  await tx.execute(`DELETE FROM ${MINUTE_EVENTS_TABLE} WHERE user_id = $1 AND window_start = $2`, [at.userId, at.windowStart], { prepare: true });
}
