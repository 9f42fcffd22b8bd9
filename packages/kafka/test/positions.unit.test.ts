import type { Admin } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { silentLogger, type SkippedRecords, type TopicPartition } from '@herald/core';
import type { OffsetTools } from '../src/internal/offsets.js';
import type { PartitionFeed } from '../src/internal/partitionFeed.js';
import { createPositions } from '../src/internal/positions.js';

// What the group's committed offset is once a running member met the client's out-of-range reset
// (kafkajs commits -2 or -1 for the group as it resets): checkGap replaces it at once.

const TP: TopicPartition = { topic: 'orders', partition: 0 };

function positions(options: { low: number; decision: 'resume' | 'stop' }) {
  const commits: [TopicPartition, number][] = [];
  const seeks: number[] = [];
  const reported: SkippedRecords[] = [];
  const admin = { fetchTopicOffsets: async () => [{ partition: 0, low: String(options.low), high: '100', offset: '100' }] } as unknown as Admin;
  const feed = { halt: () => {}, startAt: () => {}, expect: () => {} } as unknown as PartitionFeed;
  const made = createPositions({
    group: 'billing',
    start: 'earliest',
    admin: async () => admin,
    offsets: {} as OffsetTools,
    feed,
    sink: {
      deliver: async () => {},
      revoked: async () => {},
      outOfRange: async (skipped) => (reported.push(skipped), options.decision),
    },
    logger: silentLogger,
    retryDelayMs: 1,
    owns: () => true,
    closing: () => false,
    seek: (_tp, offset) => void seeks.push(offset),
    resume: () => {},
    commit: async (tp, offset) => void commits.push([tp, offset]),
  });
  return { made, commits, seeks, reported };
}

describe('checkGap after the client reset an out-of-range position', () => {
  it('reading on: reports the gap and commits the first retained offset at once, over the client’s reset', async () => {
    const { made, commits, reported } = positions({ low: 10, decision: 'resume' });
    expect(await made.checkGap(TP, 3, 10)).toBe('deliver');
    expect(reported).toEqual([{ ...TP, from: 3, to: 10 }]);
    expect(commits).toEqual([[TP, 10]]);
  });

  it('reading on after a reset to latest: goes back to the first retained offset, committed', async () => {
    const { made, commits, seeks } = positions({ low: 10, decision: 'resume' });
    expect(await made.checkGap(TP, 3, 40)).toBe('drop');
    expect(seeks).toEqual([10]);
    expect(commits).toEqual([[TP, 10]]);
  });

  it('stopping: puts back the position the group had', async () => {
    const { made, commits } = positions({ low: 10, decision: 'stop' });
    expect(await made.checkGap(TP, 3, 10)).toBe('drop');
    expect(commits).toEqual([[TP, 3]]);
  });
});
