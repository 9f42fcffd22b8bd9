import { Type } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { defineEvent } from '@herald/core';
import { memoryStores, type MemoryTx } from '@herald/testing';
import { SessionWindows, TimeWindows, createTopology, defineLateEvent, streamTest, windowsFor, type EmitMode, type Windows } from '../src/index.js';

// Window semantics on the package's own given/when/then driver: memory stores, a manual clock, no broker.

const Click = defineEvent({ type: 'Click', topic: 'clicks', key: (d) => d.userId, schema: Type.Object({ userId: Type.String(), page: Type.String() }) });
const ClickCounts = defineEvent({
  type: 'ClickCounts',
  topic: 'click-counts',
  key: (d) => d.userId,
  schema: Type.Object({ userId: Type.String(), start: Type.Integer(), end: Type.Integer(), clicks: Type.Integer(), kind: Type.String() }),
});
const LateClicks = defineLateEvent({ type: 'ClickLate', topic: 'clicks-late', value: Click.schema });

const click = (userId: string, page = 'home') => ({ userId, page });
const count = (userId: string, start: number, end: number, clicks: number, kind = 'final') => ({ userId, start, end, clicks, kind });

/** A topology counting each user's clicks in `windows`, results to ClickCounts, late records to ClickLate. */
function clickCounts(windows: Windows, options: { emit?: EmitMode; idleTimeoutMs?: number | false } = {}) {
  const topology = createTopology<MemoryTx>({ name: 'clicks', idleTimeoutMs: options.idleTimeoutMs });
  topology
    .from(Click)
    .groupByKey()
    .windowedBy(windows)
    .count('per-user', { emit: options.emit, late: { to: LateClicks } })
    .to(ClickCounts, (r) => ({ userId: r.key, start: r.value.start, end: r.value.end, clicks: r.value.value, kind: r.value.kind }));
  return streamTest(topology, { stores: memoryStores() });
}

/** Feeds one click per [userId, event time] pair, each in a batch of its own. */
const clicks = (pairs: readonly (readonly [string, number])[]) => [pairs.map(([userId]) => click(userId)), { at: (_: unknown, i: number) => pairs[i]![1], oneByOne: true }] as const;

describe('tumbling windows', () => {
  it('count each key per window and emit the counts once stream time passes the window end plus grace', async () => {
    const t = clickCounts(TimeWindows.ofSizeAndGrace(10_000, 5_000));
    await t.given(Click, ...clicks([['u-1', 1_000], ['u-2', 3_000], ['u-1', 9_999], ['u-1', 10_000]]));
    await t.when(Click, ...clicks([['u-2', 14_999]]));
    t.thenNothing(); // stream time 14 999 < 10 000 + 5 000: [0, 10 000) still takes out-of-order records
    await t.when(Click, ...clicks([['u-2', 15_000]]));
    t.thenPublished(ClickCounts, [count('u-1', 0, 10_000, 2), count('u-2', 0, 10_000, 1)]);
    expect((await t.windows('per-user')).windows.map((w) => [w.key, w.start, w.value])).toEqual([
      ['u-1', 10_000, '1'],
      ['u-2', 10_000, '2'],
    ]);
  });

  it('count an out-of-order record that arrives inside the grace period in its own window', async () => {
    const t = clickCounts(TimeWindows.ofSizeAndGrace(10_000, 5_000));
    await t.given(Click, ...clicks([['u-1', 1_000], ['u-1', 12_000]]));
    await t.when(Click, ...clicks([['u-1', 4_000]])); // 8 000 behind stream time, inside [0, 10 000)'s grace
    t.thenNothing();
    await t.when(Click, ...clicks([['u-1', 15_000]]));
    t.thenPublished(ClickCounts, [count('u-1', 0, 10_000, 2)]);
    t.thenLate([]);
  });

  it('send a record past grace to the side output, count it in the partition, and leave the closed window alone', async () => {
    const t = clickCounts(TimeWindows.ofSizeAndGrace(10_000, 5_000));
    await t.given(Click, ...clicks([['u-1', 1_000], ['u-1', 16_000]])); // closes [0, 10 000)
    await t.when(Click, ...clicks([['u-1', 2_000]]));
    t.thenPublished(ClickCounts, []);
    const late = { aggregation: 'per-user', key: 'u-1', value: click('u-1'), timestamp: 2_000, streamTime: 16_000, partition: 0, windows: [{ start: 0, end: 10_000 }] };
    t.thenLate([late]);
    t.thenPublished(LateClicks, [late]);
    expect((await t.windows('per-user')).partitions).toEqual([{ partition: 0, streamTime: 16_000, late: 1 }]);
    // the late record did not reopen its window: nothing more is ever emitted for [0, 10 000)
    await t.when(Click, ...clicks([['u-1', 30_000]]));
    t.thenPublished(ClickCounts, [count('u-1', 10_000, 20_000, 1)]);
  });

  it('take a late record in the same batch as the record that closed its window, in offset order', async () => {
    const t = clickCounts(TimeWindows.ofSizeWithNoGrace(10_000));
    await t.when(Click, [click('u-1'), click('u-1'), click('u-1')], { at: (_, i) => [5_000, 10_000, 6_000][i]! });
    t.thenPublished(ClickCounts, [count('u-1', 0, 10_000, 1)]);
    t.thenLate([{ timestamp: 6_000, streamTime: 10_000, windows: [{ start: 0, end: 10_000 }] }]);
  });
});

describe('hopping windows', () => {
  it('put one record in every window that contains it: size / advance of them', async () => {
    const spec = TimeWindows.ofSizeAndGrace(15_000, 0).advanceBy(5_000);
    expect(windowsFor(spec, 17_000)).toEqual([
      { start: 5_000, end: 20_000 },
      { start: 10_000, end: 25_000 },
      { start: 15_000, end: 30_000 },
    ]);
    expect(windowsFor(spec, 2_000)).toEqual([{ start: 0, end: 15_000 }]); // no window starts before the epoch

    const t = clickCounts(spec);
    await t.given(Click, ...clicks([['u-1', 17_000]]));
    await t.when(Click, ...clicks([['u-1', 21_000]])); // closes [5 000, 20 000) with no grace
    t.thenPublished(ClickCounts, [count('u-1', 5_000, 20_000, 1)]);
    await t.when(Click, ...clicks([['u-1', 40_000]]));
    t.thenPublished(ClickCounts, [count('u-1', 10_000, 25_000, 2), count('u-1', 15_000, 30_000, 2), count('u-1', 20_000, 35_000, 1)]);
  });

  it('send a record late only for the windows already closed and count it in the others', async () => {
    const t = clickCounts(TimeWindows.ofSizeWithNoGrace(10_000).advanceBy(5_000));
    await t.given(Click, ...clicks([['u-1', 10_000]])); // closes [0, 10 000) (empty)
    await t.when(Click, ...clicks([['u-1', 7_000]])); // windows [0, 10 000) closed, [5 000, 15 000) open
    t.thenLate([{ timestamp: 7_000, windows: [{ start: 0, end: 10_000 }] }]);
    await t.when(Click, ...clicks([['u-1', 15_000]]));
    t.thenPublished(ClickCounts, [count('u-1', 5_000, 15_000, 2)]);
  });
});

describe('session windows', () => {
  it('merge two sessions into one when a record bridges them, and emit the merged session once', async () => {
    const t = clickCounts(SessionWindows.ofInactivityGapAndGrace(5_000, 20_000));
    await t.given(Click, ...clicks([['u-1', 1_000], ['u-1', 9_000]])); // 8 000 apart: two sessions
    expect((await t.windows('per-user')).windows.map((w) => [w.start, w.end, w.value])).toEqual([
      [1_000, 1_000, '1'],
      [9_000, 9_000, '1'],
    ]);
    await t.when(Click, ...clicks([['u-1', 5_000]])); // within the gap of both
    t.thenNothing();
    expect((await t.windows('per-user')).windows.map((w) => [w.start, w.end, w.value])).toEqual([[1_000, 9_000, '3']]);
    // closes once stream time passes end + gap + grace = 34 000
    await t.when(Click, ...clicks([['u-2', 34_000]]));
    t.thenNothing();
    await t.when(Click, ...clicks([['u-2', 34_001]]));
    t.thenPublished(ClickCounts, [count('u-1', 1_000, 9_000, 3)]);
  });

  it('send a record to the side output when the session it would start is already closed', async () => {
    const t = clickCounts(SessionWindows.ofInactivityGapWithNoGrace(5_000));
    await t.given(Click, ...clicks([['u-1', 1_000], ['u-1', 20_000]])); // the first session closed at 6 001 and was emitted
    await t.when(Click, ...clicks([['u-1', 3_000]]));
    // a closed session is gone from the state: the record's own session [3 000, 3 000] closed at 8 001
    t.thenLate([{ timestamp: 3_000, streamTime: 20_000, windows: [{ start: 3_000, end: 3_000 }] }]);
    t.thenPublished(ClickCounts, []);
  });

  it('start a new session for a record inside the gap of a session that already closed, whose emitted result stays as it was', async () => {
    const t = clickCounts(SessionWindows.ofInactivityGapWithNoGrace(5_000));
    await t.given(Click, ...clicks([['u-1', 1_000], ['u-2', 6_001]])); // [1 000, 1 000] closed at 6 001 and was emitted
    await t.when(Click, ...clicks([['u-1', 4_000]])); // within its gap, but it is gone: a session of its own
    t.thenNothing();
    expect((await t.windows('per-user')).windows.map((w) => [w.key, w.start, w.end, w.value])).toEqual([
      ['u-1', 4_000, 4_000, '1'],
      ['u-2', 6_001, 6_001, '1'],
    ]);
    await t.when(Click, ...clicks([['u-2', 9_001]]));
    t.thenPublished(ClickCounts, [count('u-1', 4_000, 4_000, 1)]);
  });

  it('send a record to the side output when its own session is closed, though it is within the gap of an open one: it could reach over a closed session', async () => {
    const t = clickCounts(SessionWindows.ofInactivityGapWithNoGrace(5_000));
    await t.given(Click, ...clicks([['u-1', 1_000]]));
    // u-2 moves stream time to 7 000: [1 000, 1 000] closed at 6 001; u-1 at 4 000 opens [4 000, 4 000];
    // u-1 at 1 000 would grow that one to [1 000, 4 000], over the closed session (its start, even)
    await t.when(Click, [click('u-2'), click('u-1'), click('u-1')], { at: (_, i) => [7_000, 4_000, 1_000][i]! });
    t.thenPublished(ClickCounts, [count('u-1', 1_000, 1_000, 1)]);
    t.thenLate([{ key: 'u-1', timestamp: 1_000, streamTime: 7_000, windows: [{ start: 1_000, end: 1_000 }] }]);
    expect((await t.windows('per-user')).windows.map((w) => [w.key, w.start, w.end, w.value])).toEqual([
      ['u-1', 4_000, 4_000, '1'],
      ['u-2', 7_000, 7_000, '1'],
    ]);
  });

  it('with emit update, announce the sessions a bridging record merged away, then the merged session', async () => {
    const t = clickCounts(SessionWindows.ofInactivityGapAndGrace(5_000, 20_000), { emit: 'update' });
    await t.given(Click, ...clicks([['u-1', 1_000], ['u-1', 9_000]]));
    await t.when(Click, ...clicks([['u-1', 5_000]]));
    t.thenPublished(ClickCounts, [count('u-1', 1_000, 1_000, 1, 'merged'), count('u-1', 9_000, 9_000, 1, 'merged'), count('u-1', 1_000, 9_000, 3, 'update')]);
  });
});

describe('emission', () => {
  it('emit on close: each window gives its final result exactly once, however often stream time moves', async () => {
    const t = clickCounts(TimeWindows.ofSizeAndGrace(10_000, 2_000));
    const sent: (readonly [string, number])[] = [];
    for (let i = 0; i < 60; i++) sent.push([`u-${i % 3}`, i * 1_000 + ((i * 7_919) % 1_500)]); // jittered, partly out of order
    const emitted: unknown[] = [];
    for (const pair of sent) {
      await t.when(Click, ...clicks([pair]));
      emitted.push(...t.published(ClickCounts));
    }
    await t.when(Click, ...clicks([['u-9', 200_000]]));
    emitted.push(...t.published(ClickCounts));
    await t.when(Click, ...clicks([['u-9', 300_000]]));
    emitted.push(...t.published(ClickCounts).filter((c) => c.userId !== 'u-9'));

    const expected = new Map<string, number>();
    for (const [userId, at] of sent) {
      const id = `${userId}@${Math.floor(at / 10_000) * 10_000}`;
      expected.set(id, (expected.get(id) ?? 0) + 1);
    }
    const late = (await t.windows('per-user')).partitions[0]!.late;
    const finals = emitted as { userId: string; start: number; clicks: number; kind: string }[];
    const ids = finals.filter((c) => c.userId !== 'u-9').map((c) => `${c.userId}@${c.start}`);
    expect(new Set(ids).size).toBe(ids.length); // never twice
    expect(finals.every((c) => c.kind === 'final')).toBe(true);
    expect(late).toBe(0); // the jitter stays inside the grace: every record counted
    expect(Object.fromEntries(finals.filter((c) => c.userId !== 'u-9').map((c) => [`${c.userId}@${c.start}`, c.clicks]))).toEqual(Object.fromEntries(expected));
  });

  it('emit on update: every change of a window, one result per batch that changed it, nothing on close', async () => {
    const t = clickCounts(TimeWindows.ofSizeAndGrace(10_000, 0), { emit: 'update' });
    await t.when(Click, ...clicks([['u-1', 1_000], ['u-1', 2_000]]));
    t.thenPublished(ClickCounts, [count('u-1', 0, 10_000, 1, 'update'), count('u-1', 0, 10_000, 2, 'update')]);
    await t.when(Click, [click('u-1'), click('u-2'), click('u-1')], { at: 3_000 }); // one batch
    t.thenPublished(ClickCounts, [count('u-1', 0, 10_000, 4, 'update'), count('u-2', 0, 10_000, 1, 'update')]);
    await t.when(Click, ...clicks([['u-2', 12_000]])); // closes [0, 10 000): no final result
    t.thenPublished(ClickCounts, [count('u-2', 10_000, 20_000, 1, 'update')]);
  });
});

describe('idle partitions', () => {
  it('close their windows once idle: stream time moves on with the wall clock from the last record', async () => {
    const t = clickCounts(TimeWindows.ofSizeAndGrace(10_000, 5_000), { idleTimeoutMs: 5_000 });
    await t.given(Click, ...clicks([['u-1', 1_000]])); // at wall time 0
    await t.whenIdleFor(4_999);
    t.thenNothing(); // not idle yet
    await t.whenIdleFor(1);
    t.thenNothing(); // idle: stream time 1 000 + 5 000, short of the close at 15 000
    await t.whenIdleFor(8_999);
    t.thenNothing();
    await t.whenIdleFor(1); // stream time 1 000 + 14 000 = 15 000
    t.thenPublished(ClickCounts, [count('u-1', 0, 10_000, 1)]);
    expect((await t.windows('per-user')).partitions).toEqual([{ partition: 0, streamTime: 15_000, late: 0 }]);
    await t.whenIdleFor(60_000);
    t.thenNothing(); // closed once, never again
  });

  it('stay open when idleTimeoutMs is false: only records move stream time, so a record delayed upstream is still on time', async () => {
    const t = clickCounts(TimeWindows.ofSizeAndGrace(10_000, 5_000), { idleTimeoutMs: false });
    await t.given(Click, ...clicks([['u-1', 1_000]]));
    await t.whenIdleFor(3_600_000);
    t.thenNothing();
    expect((await t.windows('per-user')).partitions).toEqual([{ partition: 0, streamTime: 1_000, late: 0 }]);
    // an hour later, a record of that window arrives (its producer's relay was stalled): it counts
    await t.when(Click, ...clicks([['u-1', 2_000]]));
    await t.when(Click, ...clicks([['u-1', 15_000]]));
    t.thenPublished(ClickCounts, [count('u-1', 0, 10_000, 2)]);
    expect(() => createTopology({ name: 'x', idleTimeoutMs: 0 })).toThrow(expect.objectContaining({ code: 'invalid-options' }));
  });

  it('a record ends the idle period: stream time then follows event time again', async () => {
    const t = clickCounts(TimeWindows.ofSizeAndGrace(10_000, 5_000), { idleTimeoutMs: 5_000 });
    await t.given(Click, ...clicks([['u-1', 1_000]]));
    await t.givenIdleFor(10_000); // stream time 11 000
    await t.when(Click, ...clicks([['u-1', 2_000]])); // still inside [0, 10 000)'s grace
    t.thenNothing();
    await t.whenIdleFor(4_000); // not idle again yet: the record reset the timeout
    t.thenNothing();
    await t.whenIdleFor(1_000); // idle again from 11 000 + 5 000 = 16 000
    t.thenPublished(ClickCounts, [count('u-1', 0, 10_000, 2)]);
  });
});
