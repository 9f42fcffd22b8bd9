import type { Admin } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { silentLogger, type SkippedRecords, type StartPosition, type TopicPartition } from '@herald/core';
import type { OffsetTools } from '../src/internal/offsets.js';
import type { PartitionFeed } from '../src/internal/partitionFeed.js';
import { createPositions } from '../src/internal/positions.js';

// Where a member's partitions start, and what the group's committed offset is once a running member
// met the client's out-of-range reset (kafkajs commits -2 for the group as it resets): checkGap puts
// back a real one at once, and a placement that finds the marker reports the gap.

const TP: TopicPartition = { topic: 'orders', partition: 0 };

interface Setup {
  /** The partition's first retained offset. */
  low: number;
  decision?: 'resume' | 'stop';
  start?: StartPosition;
  /** The group's committed offset as the broker answers it (-1: never committed). */
  committed?: number;
  /** What `offsetsAt(topic, start)` resolves to. */
  startOffset?: number;
  /** Runs when the sink is asked about a gap (before it answers). */
  onOutOfRange?: () => void;
  /** How many of the group's offset reads fail (a request timing out at a rebalance) before they answer. */
  failingReads?: number;
}

function positions(options: Setup) {
  const commits: [TopicPartition, number][] = [];
  const seeks: number[] = [];
  const reported: SkippedRecords[] = [];
  /** seek, commit and resume, in the order they happened. */
  const steps: string[] = [];
  let owned = true;
  let low = options.low;
  let failing = options.failingReads ?? 0;
  const admin = {
    fetchTopicOffsets: async () => [{ partition: 0, low: String(low), high: '100', offset: '100' }],
    fetchOffsets: async () => {
      if (failing > 0) {
        failing--;
        throw new Error('The request timed out');
      }
      return [{ topic: TP.topic, partitions: [{ partition: 0, offset: String(options.committed ?? -1), metadata: null }] }];
    },
  } as unknown as Admin;
  const feed = { halt: () => {}, startAt: () => {}, expect: () => {} } as unknown as PartitionFeed;
  const offsets = { offsetsAt: async () => new Map([[0, options.startOffset ?? 100]]) } as unknown as OffsetTools;
  const made = createPositions({
    group: 'billing',
    start: options.start ?? 'earliest',
    admin: async () => admin,
    offsets,
    feed,
    sink: {
      deliver: async () => {},
      revoked: async () => {},
      outOfRange: async (skipped) => (reported.push(skipped), options.onOutOfRange?.(), options.decision ?? 'resume'),
    },
    logger: silentLogger,
    retryDelayMs: 1,
    owns: () => owned,
    closing: () => false,
    seek: (_tp, offset) => void (seeks.push(offset), steps.push(`seek ${offset}`)),
    resume: (tps) => void (tps.length > 0 && steps.push(`resume ${tps.map((tp) => tp.partition).join(',')}`)),
    commit: async (tp, offset) => {
      await Promise.resolve(); // a commit is a round trip
      commits.push([tp, offset]);
      steps.push(`commit ${offset}`);
    },
  });
  return { made, commits, seeks, reported, steps, disown: () => (owned = false), retain: (from: number) => (low = from) };
}

describe('placing a partition the group never committed', () => {
  it('commits where `latest` put it before resuming it, so the next owner starts there rather than at a later latest', async () => {
    const { made, steps } = positions({ low: 0, start: 'latest', startOffset: 42 });
    await made.placeGained([TP]);
    expect(steps).toEqual(['seek 42', 'commit 42', 'resume 0']);
  });

  it('tries a placement that failed again, so a `latest` group does not start where the client would (its first retained record)', async () => {
    const { made, steps } = positions({ low: 0, start: 'latest', startOffset: 42, failingReads: 2 });
    await made.placeGained([TP]);
    expect(steps).toEqual(['seek 42', 'commit 42', 'resume 0']);
  });

  it('commits where a timestamp put it, too; `earliest` needs no commit', async () => {
    const byTime = positions({ low: 0, start: { timestamp: 1_700_000_000_000 }, startOffset: 17 });
    await byTime.made.placeGained([TP]);
    expect(byTime.steps).toEqual(['seek 17', 'commit 17', 'resume 0']);
    const earliest = positions({ low: 5, start: 'earliest' });
    await earliest.made.placeGained([TP]);
    expect(earliest.steps).toEqual(['resume 0']);
  });
});

describe('placing a partition whose commit is the client’s reset marker (-2), left by a member that stopped before replacing it', () => {
  it('reports the gap, from 0 since where the group was is lost, and reads on from the first retained offset, not from `start`', async () => {
    const { made, reported, steps } = positions({ low: 10, committed: -2, start: 'latest', startOffset: 100 });
    await made.placeGained([TP]);
    expect(reported).toEqual([{ ...TP, from: 0, to: 10 }]);
    expect(steps).toEqual(['seek 10', 'commit 10', 'resume 0']);
  });

  it("obeys 'stop': the partition stays paused and the marker stays, so the next start reports the gap again", async () => {
    const { made, reported, steps } = positions({ low: 10, committed: -2, decision: 'stop' });
    await made.placeGained([TP]);
    expect(reported).toEqual([{ ...TP, from: 0, to: 10 }]);
    expect(steps).toEqual([]);
  });

  it('reports nothing when retention deleted nothing (the reset was for an offset past the end), and starts at 0', async () => {
    const { made, reported, steps } = positions({ low: 0, committed: -2, start: 'latest', startOffset: 100 });
    await made.placeGained([TP]);
    expect(reported).toEqual([]);
    expect(steps).toEqual(['seek 0', 'commit 0', 'resume 0']);
  });
});

describe('checkGap after the client reset an out-of-range position', () => {
  // placed at its commit 3; then retention deletes up to 10 while the member runs, at position 8
  async function running(decision: 'resume' | 'stop', onOutOfRange?: () => void) {
    const made = positions({ low: 0, committed: 3, decision, onOutOfRange });
    await made.made.placeGained([TP]);
    made.made.committed(TP, 5); // the sink completed 3 and 4 and committed; 5 to 7 are still running
    made.retain(10);
    return made;
  }

  it('reading on: reports the gap and puts back the group’s last commit over the client’s reset, not the gap’s end (records before it still run)', async () => {
    const { made, commits, reported } = await running('resume');
    expect(await made.checkGap(TP, 8, 10)).toBe('deliver');
    expect(reported).toEqual([{ ...TP, from: 8, to: 10 }]);
    expect(commits).toEqual([[TP, 5]]);
  });

  it('reading on after a reset that fetched past the first retained offset: goes back to it', async () => {
    const { made, commits, seeks } = await running('resume');
    expect(await made.checkGap(TP, 8, 40)).toBe('drop');
    expect(seeks).toEqual([10]);
    expect(commits).toEqual([[TP, 5]]);
  });

  it('stopping: puts back the group’s last commit, not the position delivered up to', async () => {
    const { made, commits } = await running('stop');
    expect(await made.checkGap(TP, 8, 10)).toBe('drop');
    expect(commits).toEqual([[TP, 5]]);
  });

  it('commits nothing when the group’s last commit is unknown here (the partition was never placed)', async () => {
    const { made, commits, reported } = positions({ low: 10, decision: 'resume' });
    expect(await made.checkGap(TP, 3, 10)).toBe('deliver');
    expect(reported).toEqual([{ ...TP, from: 3, to: 10 }]);
    expect(commits).toEqual([]);
  });

  it('leaves a partition that moved while the sink answered to its new owner: no commit, no seek', async () => {
    let disown = () => {};
    const member = await running('resume', () => disown());
    disown = member.disown;
    expect(await member.made.checkGap(TP, 8, 40)).toBe('drop');
    expect(member.commits).toEqual([]);
    expect(member.seeks).toEqual([]);
  });
});

describe('placing a partition the group committed behind retention', () => {
  it('leaves a partition that moved while the sink answered to its new owner: no seek', async () => {
    const { made, seeks, steps, reported, disown } = positions({ low: 10, committed: 3, onOutOfRange: () => disown() });
    await made.placeGained([TP]);
    expect(reported).toEqual([{ ...TP, from: 3, to: 10 }]);
    expect(seeks).toEqual([]);
    expect(steps).toEqual([]);
  });
});
