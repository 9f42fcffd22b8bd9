import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import { afterEach, describe, expect, it } from 'vitest';
import { defineEvent, type SqlTx } from '@herald/core';
import { sqliteStores, type SqliteStores } from '@herald/sqlite';
import { SessionWindows, StreamErrorCodes, TimeWindows, createTopology, defineLateEvent, streamTest, type Windows } from '../src/index.js';

// Event times near the end of time, on real SQLite files. Results, late records and re-keyed
// records are published with their time as `occurredAt`, which a Date holds only up to
// 8 640 000 000 000 000 ms (275760-09-13). A record whose own time, or whose window's result
// time, lies after that must be refused with invalid-event-time when it arrives: taken, it would
// fail with a RangeError (no code) in whichever batch or punctuation closes its window, for good.

/** The last instant a Date, so an envelope's `occurredAt`, can hold. */
const LAST_DATE_MS = 8_640_000_000_000_000;

const View = defineEvent({ type: 'View', topic: 'views', key: (d) => d.userId, schema: Type.Object({ userId: Type.String(), at: Type.Integer() }) });
const Counts = defineEvent({
  type: 'Counts',
  topic: 'counts',
  key: (d) => d.userId,
  schema: Type.Object({ userId: Type.String(), start: Type.Integer(), end: Type.Integer(), n: Type.Integer() }),
});
const LateViews = defineLateEvent({ type: 'ViewLate', topic: 'views-late', value: View.schema });

let dir: string | undefined;
const opened: SqliteStores[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()));
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

/** Counts views per user in `windows`, event time from `at`, results and late records published; on a SQLite file, idle after 1 s. */
function counting(windows: Windows) {
  dir ??= mkdtempSync(join(tmpdir(), 'herald-stream-far-'));
  const stores = sqliteStores({ path: join(dir, `stores-${opened.length}.db`) });
  opened.push(stores);
  const topology = createTopology<SqlTx>({ name: 'far', idleTimeoutMs: 1_000 });
  topology
    .from(View, { timestamp: (e) => e.data.at })
    .groupByKey()
    .windowedBy(windows)
    .count('n', { late: { to: LateViews } })
    .to(Counts, (r) => ({ userId: r.key, start: r.value.start, end: r.value.end, n: r.value.value }));
  return streamTest(topology, { stores: stores as never });
}

const view = (at: number) => ({ userId: 'u-1', at });

describe('event times at the end of time', () => {
  it("refuses a time window whose result would be stamped after a Date's last instant, and publishes the last one that is not", async () => {
    const SIZE = 420_000; // 7 minutes: the last window holding LAST_DATE_MS ends after it
    const t = counting(TimeWindows.ofSizeAndGrace(SIZE, 0));
    const lastStart = Math.floor((LAST_DATE_MS + 1) / SIZE) * SIZE - SIZE; // the last window [start, end) with end - 1 <= LAST_DATE_MS
    for (const at of [lastStart + SIZE, LAST_DATE_MS, LAST_DATE_MS + 1]) {
      await expect(t.when(View, [view(at)])).rejects.toMatchObject({ code: StreamErrorCodes.invalidEventTime, retriable: false });
    }
    expect(await t.windows('n')).toEqual({ partitions: [], windows: [] });

    await t.when(View, [view(lastStart), view(lastStart + SIZE - 1)]);
    await t.whenIdleFor(SIZE + 1_000); // idle: stream time moves on past the window's end
    t.thenPublished(Counts, [{ userId: 'u-1', start: lastStart, end: lastStart + SIZE, n: 2 }]);
    // a record late for it goes to the side output, published with its own time
    await t.when(View, [view(lastStart)]);
    t.thenLate([{ key: 'u-1', timestamp: lastStart, windows: [{ start: lastStart, end: lastStart + SIZE }] }]);
    expect(t.published(LateViews).map((late) => late.timestamp)).toEqual([lastStart]);
  });

  it("takes a session up to a Date's last instant and publishes it; refuses a record after it", async () => {
    const t = counting(SessionWindows.ofInactivityGapAndGrace(1_000, 0));
    await expect(t.when(View, [view(LAST_DATE_MS + 1)])).rejects.toMatchObject({ code: StreamErrorCodes.invalidEventTime, message: /275760/ });
    await t.when(View, [view(LAST_DATE_MS - 500), view(LAST_DATE_MS)]);
    await t.whenIdleFor(3_000);
    t.thenPublished(Counts, [{ userId: 'u-1', start: LAST_DATE_MS - 500, end: LAST_DATE_MS, n: 2 }]);
  });

  it('refuses a record whose window would close beyond Number.MAX_SAFE_INTEGER (a grace of ages) with invalid-event-time, not a store error', async () => {
    const grace = Number.MAX_SAFE_INTEGER - LAST_DATE_MS + 1;
    const t = counting(TimeWindows.ofSizeAndGrace(60_000, grace));
    // [LAST_DATE_MS - 60 000, LAST_DATE_MS): its result time is a Date's, its close one past the largest safe integer
    await expect(t.when(View, [view(LAST_DATE_MS - 60_000)])).rejects.toMatchObject({ code: StreamErrorCodes.invalidEventTime, message: /MAX_SAFE_INTEGER/ });
    expect(await t.windows('n')).toEqual({ partitions: [], windows: [] });
    await t.when(View, [view(LAST_DATE_MS - 60_001)]);
    expect((await t.windows('n')).windows.map((w) => w.closeAt)).toEqual([Number.MAX_SAFE_INTEGER - 59_999]);
  });
});
