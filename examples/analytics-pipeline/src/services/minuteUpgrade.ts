import { hasWindowStore, type App, type HandlerService, type SqlTx, type StoredWindow } from '@herald/core';
import type { AnalyticsEvent as StoredEvent } from '@herald/analytics';
import { createMinuteEventsTable, holdDeliveries, MINUTE_EVENTS_TABLE } from './minuteEvents.js';

/**
 * The upgrade of the minutes left open by a consumer from before events were held in rows. Its minute
 * aggregation kept every event of a user-minute in the window state, as one JSON array (their
 * deliveries, in order); the aggregation now keeps a count, and the events wait in
 * `analytics_minute_events`. A minute open at the upgrade would be misread (a count of an array)
 * and closed with none of its events in a row: accepted events never appended. So, before the
 * consumer groups read anything, each such window's events are held as the consumer holds them
 * ({@link holdDeliveries}: one row per event id, a copy per delivery) and its value becomes the count
 * of its deliveries, as if the new aggregation had taken them. Once done (or found with nothing
 * to do), a row of {@link MINUTE_UPGRADES_TABLE} says so, and later starts read that row instead of
 * every open minute (a scan of 100,000 open minutes took about 1 s on SQLite files, 0.4 s on
 * PostgreSQL, at every start).
 */

/** One row per window store whose minutes from before were upgraded: a start finding its row scans nothing. */
export const MINUTE_UPGRADES_TABLE = 'analytics_minute_upgrades';

const UPGRADES_SCHEMA = `CREATE TABLE IF NOT EXISTS ${MINUTE_UPGRADES_TABLE} (
  window_store TEXT NOT NULL PRIMARY KEY,
  upgraded_at BIGINT NOT NULL
)`;

/**
 * A component preparing the minutes' rows before the consumer groups read anything (a handler
 * service: started before them, so no batch finds the table missing or a minute not upgraded):
 * creates the tables, then upgrades the minutes of `windowStore` left open by a consumer from
 * before ({@link upgradeArrayMinutes}).
 */
export function minuteEventsTable(app: App<SqlTx>, options: { readonly windowStore: string }): HandlerService {
  return {
    name: MINUTE_EVENTS_TABLE,
    servesHandlers: true,
    start: async () => {
      await app.transaction(async (tx) => {
        await createMinuteEventsTable(tx);
        await tx.execute(UPGRADES_SCHEMA);
      });
      await upgradeArrayMinutes(app, options.windowStore);
    },
    close: async () => {},
  };
}

/** What {@link upgradeArrayMinutes} moved. */
export interface MinuteUpgrade {
  /** Windows whose array became a count. */
  readonly windows: number;
  /** Deliveries moved into rows (a duplicate delivery of an id is one more copy of its row). */
  readonly events: number;
}

/**
 * How much of the state from before one transaction moves (bytes of the arrays): moved in one
 * transaction, one statement per delivery, 50,000 deliveries took 12 s on PostgreSQL and 150,000
 * ran past the stores' `transactionTimeoutMs` (30 s by default), so every start failed alike.
 */
const BYTES_PER_TRANSACTION = 1_000_000;

/**
 * Moves the events of every open window of `windowStore` that still holds an array into rows and
 * replaces the array by its length, then records in {@link MINUTE_UPGRADES_TABLE} that it ran. A
 * window's rows and its count are written in one transaction, a few windows per transaction
 * ({@link BYTES_PER_TRANSACTION}): interrupted, the windows not yet moved are still arrays, and the
 * next start moves them; once recorded, a start reads that row (one primary key lookup) and
 * nothing else. Each transaction reads its windows again, through `update` (which serialises with
 * any consumer writing that partition), so a window another process upgraded meanwhile is left
 * alone. Needs the tables ({@link minuteEventsTable} creates them).
 */
export async function upgradeArrayMinutes(app: App<SqlTx>, windowStore: string): Promise<MinuteUpgrade> {
  const { stores } = app;
  if (!hasWindowStore(stores)) return { windows: 0, events: 0 };
  const done = await app.transaction((tx) => tx.query(`SELECT 1 FROM ${MINUTE_UPGRADES_TABLE} WHERE window_store = $1`, [windowStore]));
  if (done.length > 0) return { windows: 0, events: 0 };
  const upgrade = { windows: 0, events: 0 };
  for (const { partition, keys } of chunksOf((await stores.windows.read(windowStore)).windows)) {
    const moved = await app.transaction(async (tx) => {
      let arrays: { window: StoredWindow; deliveries: StoredEvent[] }[] = [];
      // stream time unchanged and every window put back with its own closeAt: nothing closes here
      // (no stored window is at or below its partition's stream time, by the store's contract)
      await stores.windows.update(tx, { store: windowStore, partition }, keys, ({ streamTime, windows: stored }) => {
        // read again here: what another process upgraded since the read above is a count now
        const found = stored.flatMap((window) => {
          const deliveries = deliveriesOf(window.value);
          return deliveries === undefined ? [] : [{ window, deliveries }];
        });
        if (found.length === 0 || streamTime === undefined) return undefined;
        arrays = found;
        return { streamTime, put: arrays.map(({ window, deliveries }) => ({ ...window, value: JSON.stringify(deliveries.length) })) };
      });
      for (const { window, deliveries } of arrays) {
        const held = deliveries.map((d) => ({ eventId: d.eventId, userId: d.userId, type: d.type, occurredAt: d.occurredAt, properties: d.properties }));
        await holdDeliveries(tx, { userId: window.key, windowStart: window.start }, held);
      }
      return { windows: arrays.length, events: arrays.reduce((sum, a) => sum + a.deliveries.length, 0) };
    });
    upgrade.windows += moved.windows;
    upgrade.events += moved.events;
  }
  // two consumers starting at once both get here; the second found every window a count, and finds the row
  await app.transaction((tx) =>
    tx.execute(`INSERT INTO ${MINUTE_UPGRADES_TABLE} (window_store, upgraded_at) VALUES ($1, $2) ON CONFLICT (window_store) DO NOTHING`, [windowStore, app.clock.now()]),
  );
  if (upgrade.windows > 0) {
    app.logger.info('analytics minute state upgraded: open minutes held as an array now hold a count, their events in rows', { store: windowStore, ...upgrade });
  }
  return upgrade;
}

/** The keys of the windows still holding an array, by partition, in chunks of about {@link BYTES_PER_TRANSACTION} (at least a window each). */
function chunksOf(windows: readonly (StoredWindow & { readonly partition: number })[]): { partition: number; keys: string[] }[] {
  const chunks: { partition: number; keys: Set<string>; bytes: number }[] = [];
  for (const w of windows) {
    // a count never starts with '[': only an array is from before (parsed where it is moved)
    if (!w.value.startsWith('[')) continue;
    const last = chunks.at(-1);
    if (last && last.partition === w.partition && last.bytes < BYTES_PER_TRANSACTION) {
      last.keys.add(w.key);
      last.bytes += w.value.length;
    } else chunks.push({ partition: w.partition, keys: new Set([w.key]), bytes: w.value.length });
  }
  return chunks.map(({ partition, keys }) => ({ partition, keys: [...keys] }));
}

/** The deliveries a window value from before holds, or undefined for a value of today (a count). */
function deliveriesOf(value: string): StoredEvent[] | undefined {
  if (!value.startsWith('[')) return undefined;
  const parsed: unknown = JSON.parse(value);
  return Array.isArray(parsed) ? (parsed as StoredEvent[]) : undefined;
}
