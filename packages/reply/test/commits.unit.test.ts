import { createManualClock, silentLogger, type CommittedOffset, type Delivery, type DeliveryBatch, type Subscription } from '@herald/core';
import { describe, expect, it } from 'vitest';
import { COMMIT_INTERVAL_MS, positionCommitter } from '../src/commits.js';

// The read positions of a reply or wait group (a group of one member): what a restart with the
// same instance id resumes from. A subscription whose commits settle when the test says so.

function subscription() {
  const calls: { offsets: readonly CommittedOffset[]; settled: boolean; settle: (error?: Error) => void }[] = [];
  const committed: CommittedOffset[] = [];
  const sub: Subscription = {
    commit: (offsets) =>
      new Promise<void>((resolve, reject) => {
        const call = {
          offsets,
          settled: false,
          settle: (error?: Error) => {
            if (call.settled) return;
            call.settled = true;
            if (error) return reject(error);
            committed.push(...offsets);
            resolve();
          },
        };
        calls.push(call);
      }),
    close: async () => undefined,
  };
  /** Lets every commit made so far succeed. */
  const succeed = () => {
    for (const call of calls) call.settle();
  };
  return { sub, calls, committed, succeed };
}

const batch = (lastOffset: number): DeliveryBatch => ({
  topic: 'replies',
  partition: 0,
  deliveries: [{ topic: 'replies', partition: 0, offset: lastOffset, key: 'k', value: '', headers: {}, timestamp: 0 } satisfies Delivery],
});
const settled = () => new Promise((resolve) => setImmediate(resolve));

describe('the read positions of a group of one member', () => {
  it('never moves back: a commit that failed is not retried over a later one that succeeded meanwhile', async () => {
    const clock = createManualClock(0);
    const { sub, calls, committed, succeed } = subscription();
    const positions = positionCommitter({ clock, logger: silentLogger, group: 'herald.reply.r-1' });
    positions.attach(sub);

    positions.delivered(batch(9));
    await clock.advance(COMMIT_INTERVAL_MS); // the interval's commit of 10 is under way...
    expect(calls.map((c) => c.offsets[0]?.offset)).toEqual([10]);
    positions.delivered(batch(19));
    const revoked = positions.revoked([{ topic: 'replies', partition: 0 }]); // ...when the partition is revoked (close)
    await settled();
    calls[0]!.settle(new Error('coordinator moved'));
    await settled();
    succeed();
    await revoked;
    await clock.advance(COMMIT_INTERVAL_MS * 3);
    succeed();
    await settled();

    expect(committed.at(-1)?.offset, 'the position a restart resumes from').toBe(20);
    positions.close();
  });
});
