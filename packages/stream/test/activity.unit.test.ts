import { describe, expect, it } from 'vitest';
import { createManualClock } from '@herald/core';
import { createActivity } from '../src/internal/activity.js';

// Which partitions the punctuator may close: only those this member holds, idle long enough.

describe('partition activity', () => {
  it('finds the held partitions idle once nothing ran for the timeout, and tells since when', async () => {
    const clock = createManualClock(0);
    const activity = createActivity(clock, 1_000);
    activity.assigned('g', [{ topic: 't', partition: 0 }, { topic: 't', partition: 1 }]);
    activity.begin('g', 1);
    await clock.advance(999);
    expect(activity.idle('g', clock.now())).toEqual([]);
    activity.end('g', 1);
    await clock.advance(1);
    expect(activity.idle('g', clock.now())).toEqual([0]); // 1 had a batch until 999
    await clock.advance(999);
    expect(activity.idle('g', clock.now())).toEqual([0, 1]);
    expect([activity.since('g', 0), activity.since('g', 1)]).toEqual([0, 999]);
  });

  it('forgets a partition revoked while a batch of it runs once that batch ends: it is never punctuated here again', async () => {
    const clock = createManualClock(0);
    const activity = createActivity(clock, 1_000);
    activity.assigned('g', [{ topic: 't', partition: 0 }]);
    activity.begin('g', 0);
    activity.revoked('g', [{ topic: 't', partition: 0 }]);
    activity.end('g', 0);
    await clock.advance(10_000);
    expect(activity.idle('g', clock.now())).toEqual([]);
    activity.assigned('g', [{ topic: 't', partition: 0 }]);
    await clock.advance(1_000);
    expect(activity.idle('g', clock.now())).toEqual([0]);
  });

  it('never punctuates a partition it was not assigned, though a batch of it ran here (a redrive), until it is assigned', async () => {
    const clock = createManualClock(0);
    const activity = createActivity(clock, 1_000);
    activity.assigned('g', [{ topic: 't', partition: 0 }]);
    activity.begin('g', 1);
    activity.end('g', 1);
    await clock.advance(10_000);
    expect(activity.idle('g', clock.now())).toEqual([0]);
    activity.assigned('g', [{ topic: 't', partition: 1 }]);
    await clock.advance(1_000);
    expect(activity.idle('g', clock.now())).toEqual([0, 1]);
    expect(activity.since('g', 1)).toBe(10_000); // idle since the assignment, not since the redrive
  });

  it('keeps a partition whose events wait for a retry from going idle until they are settled, and counts its idle time from then', async () => {
    const clock = createManualClock(0);
    const activity = createActivity(clock, 1_000);
    activity.assigned('g', [{ topic: 't', partition: 0 }]);
    activity.begin('g', 0);
    activity.failed('g', 0, ['e1', 'e2']);
    activity.end('g', 0);
    await clock.advance(5_000); // a backoff longer than the idle timeout
    expect(activity.idle('g', clock.now())).toEqual([]);
    expect(activity.target('g', 0, 's', 100, { now: clock.now(), since: 0 })).toBeUndefined();
    activity.settled('g', 0, ['e1']); // applied alone; e2 still waits
    await clock.advance(5_000);
    expect(activity.idle('g', clock.now())).toEqual([]);
    activity.settled('g', 0, ['e2']); // dead-lettered
    expect(activity.since('g', 0)).toBe(10_000);
    await clock.advance(1_000);
    expect(activity.idle('g', clock.now())).toEqual([0]);

    // an attempt of the partition that succeeds settles every earlier event (one-at-a-time, in offset order)
    activity.begin('g', 0);
    activity.failed('g', 0, ['e3']);
    activity.end('g', 0);
    activity.begin('g', 0);
    activity.settled('g', 0);
    activity.end('g', 0);
    await clock.advance(1_000);
    expect(activity.idle('g', clock.now())).toEqual([0]);
  });
});
