import type { SqlTx } from '@herald/core';
import type { AnalyticsEvent as StoredEvent, AnalyticsStore } from '@herald/analytics';
import { createTopology, TimeWindows, type Topology } from '@herald/stream';
import { AnalyticsEvent, GROUPS } from '../../src/events.js';
import { MINUTE_AGGREGATION, MINUTE_MS } from '../../src/services/consumer.js';

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
