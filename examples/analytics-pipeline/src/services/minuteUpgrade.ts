import { hasWindowStore, type App, type HandlerService, type SqlTx, type StoredWindow } from '@herald/core';
import type { AnalyticsEvent as StoredEvent } from '@herald/analytics';
import { createMinuteEventsTable, holdEvent, MINUTE_EVENTS_TABLE } from './minuteEvents.js';

/**
 * The upgrade of the minutes a consumer from before held events rows left open. Its minute
 * aggregation kept every event of a user-minute in the window state, as one JSON array (their
 * deliveries, in order); the aggregation now keeps a count, and the events wait in
 * `analytics_minute_events`. A minute open at the upgrade would be misread (a count of an array)
 * and closed with none of its events in a row: accepted events never appended. So, before the
 * consumer groups read anything, each such window's events are held as the consumer holds them
 * ({@link holdEvent}: one row per event id, a copy per delivery) and its value becomes the count
 * of its deliveries, as if the new aggregation had taken them.
 */

/**
 * A component preparing the minutes' rows before the consumer groups read anything (a handler
 * service: started before them, so no batch finds the table missing or a minute not upgraded):
 * creates the table, then upgrades the minutes of `windowStore` left open by a consumer from
 * before ({@link upgradeArrayMinutes}).
 */
export function minuteEventsTable(app: App<SqlTx>, options: { readonly windowStore: string }): HandlerService {
  return {
    name: MINUTE_EVENTS_TABLE,
    servesHandlers: true,
    start: async () => {
      await app.transaction((tx) => createMinuteEventsTable(tx));
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
 * Moves the events of every open window of `windowStore` that still holds an array into rows and
 * replaces the array by its length, in one transaction: interrupted, nothing is moved and the next
 * start does it all; run again, it finds no array and moves nothing. Each partition's windows are
 * read again inside the transaction, through `update` (which serialises with any consumer writing
 * that partition), so a window another process upgraded meanwhile is left alone.
 */
export async function upgradeArrayMinutes(app: App<SqlTx>, windowStore: string): Promise<MinuteUpgrade> {
  const { stores } = app;
  if (!hasWindowStore(stores)) return { windows: 0, events: 0 };
  const keysByPartition = new Map<number, Set<string>>();
  for (const w of (await stores.windows.read(windowStore)).windows) {
    if (deliveriesOf(w.value) !== undefined) keysByPartition.set(w.partition, (keysByPartition.get(w.partition) ?? new Set()).add(w.key));
  }
  if (keysByPartition.size === 0) return { windows: 0, events: 0 };
  const upgrade = await app.transaction(async (tx) => {
    let windows = 0;
    let events = 0;
    for (const [partition, keys] of keysByPartition) {
      let arrays: { window: StoredWindow; deliveries: StoredEvent[] }[] = [];
      // stream time unchanged and every window put back with its own closeAt: nothing closes here
      // (no stored window is at or below its partition's stream time, by the store's contract)
      await stores.windows.update(tx, { store: windowStore, partition }, [...keys], ({ streamTime, windows: stored }) => {
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
        const at = { userId: window.key, windowStart: window.start };
        for (const d of deliveries) await holdEvent(tx, at, { eventId: d.eventId, userId: d.userId, type: d.type, occurredAt: d.occurredAt, properties: d.properties });
        windows += 1;
        events += deliveries.length;
      }
    }
    return { windows, events };
  });
  if (upgrade.windows > 0) {
    app.logger.info('analytics minute state upgraded: open minutes held as an array now hold a count, their events in rows', { store: windowStore, ...upgrade });
  }
  return upgrade;
}

/** The deliveries a window value from before holds, or undefined for a value of today (a count). */
function deliveriesOf(value: string): StoredEvent[] | undefined {
  // a count never starts with '[': only an array needs parsing
  if (!value.startsWith('[')) return undefined;
  const parsed: unknown = JSON.parse(value);
  return Array.isArray(parsed) ? (parsed as StoredEvent[]) : undefined;
}
