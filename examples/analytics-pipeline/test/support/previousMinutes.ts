import type { SqlTx, TransactionRunner, WindowStores } from '@herald/core';
import type { AnalyticsEvent as StoredEvent, AnalyticsStore } from '@herald/analytics';
import { createTopology, TimeWindows, type Topology } from '@herald/stream';
import { AnalyticsEvent, GROUPS } from '../../src/events.js';
import { MINUTE_AGGREGATION, MINUTE_MS, MINUTE_WINDOW_STORE } from '../../src/services/consumer.js';

/**
 * The consumer's minute aggregation as it was before the minutes' events moved to rows (commit
 * 80bde0c's parent, `registerConsumer`, its checks and side output's store left out): same topology and
 * aggregation names, so it writes the window state a data directory of that version holds, each
 * open minute's deliveries as one JSON array. For the upgrade tests only.
 */
export function previousMinutes(store: AnalyticsStore, graceMs: number): Topology<SqlTx> {
  const topology = createTopology<SqlTx>({ name: GROUPS.stream, idleTimeoutMs: 3_600_000 });
  topology
    .from(AnalyticsEvent)
    .groupByKey()
    .windowedBy(TimeWindows.ofSizeAndGrace(MINUTE_MS, graceMs))
    .aggregate<StoredEvent[]>(MINUTE_AGGREGATION, {
      initial: () => [],
      add: (events, record) => {
        events.push({ eventId: record.value.eventId, userId: record.value.userId, type: record.value.type, occurredAt: record.timestamp, properties: record.value.properties });
        return events;
      },
      // the upgrade tests send nothing late; the previous version stored it as a late event
      late: { handler: async () => {} },
    })
    .forEach(async (result) => {
      await store.appendEvents(result.value.value);
    });
  return topology;
}

/**
 * Writes open minutes as {@link previousMinutes}' aggregation leaves them (each one JSON array of
 * its deliveries, closing at its end plus `graceMs`), straight into the window state: a state from
 * before too large to build event by event in a test.
 */
export async function writePreviousMinutes(stores: WindowStores<SqlTx> & TransactionRunner<SqlTx>, options: { readonly graceMs: number; readonly streamTime: number; readonly minutes: readonly PreviousMinute[] }): Promise<void> {
  for (const partition of new Set(options.minutes.map((m) => m.partition))) {
    const minutes = options.minutes.filter((m) => m.partition === partition);
    const put = minutes.map((m) => ({ key: m.userId, start: m.start, end: m.start + MINUTE_MS, closeAt: m.start + MINUTE_MS + options.graceMs, value: JSON.stringify(m.deliveries) }));
    await stores.transaction((tx) => stores.windows.update(tx, { store: MINUTE_WINDOW_STORE, partition }, [], () => ({ streamTime: options.streamTime, put })));
  }
}

/** An open minute of one user, as the consumer from before held it. */
export interface PreviousMinute {
  readonly partition: number;
  readonly userId: string;
  readonly start: number;
  readonly deliveries: readonly StoredEvent[];
}
