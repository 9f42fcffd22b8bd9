import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import type { Batch } from 'kafkajs';
import { createManualClock, silentLogger } from '@herald/core';
import type { Delivery } from '@herald/core';
import { createBatchIntake } from '../src/internal/batchIntake.js';
import { createPartitionFeed } from '../src/internal/partitionFeed.js';

/** kafkajs 2.2.4's own Batch, as its fetch builds it: the intake reads what kafkajs really puts on it. */
const KafkaBatch = createRequire(import.meta.url)('kafkajs/src/consumer/batch.js') as new (topic: string, fetchedOffset: string, partitionData: unknown) => Batch;

const T = 'orders';
const settle = async () => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

/** A data record, or a control record (a transaction marker), as kafkajs decodes them. */
const record = (offset: number) => ({ offset: String(offset), key: Buffer.from(`k${offset}`), value: Buffer.from(String(offset)), headers: {}, timestamp: '0', isControlRecord: false, batchContext: {} });
const marker = (offset: number) => ({ ...record(offset), isControlRecord: true });

/** A fetch answer for partition 0 at `fetchedAt`, as kafkajs hands it to eachBatch. */
function fetched(fetchedAt: number, messages: ReturnType<typeof record>[]): Batch {
  return new KafkaBatch(T, String(fetchedAt), { partition: 0, highWatermark: '100', messages, abortedTransactions: [] });
}

function setup() {
  const delivered: Delivery[] = [];
  /** The gap questions asked (each costs the brokers an offsets lookup): [expected, first fetched]. */
  const questions: [number, number][] = [];
  const sink = { deliver: async (batch: { deliveries: readonly Delivery[] }) => void delivered.push(...batch.deliveries), revoked: async () => {} };
  const feed = createPartitionFeed({
    sink,
    maxBatch: Number.POSITIVE_INFINITY,
    pause: () => {},
    resume: () => {},
    ready: () => Promise.resolve(),
    checkGap: async (_tp, expected, first) => {
      questions.push([expected, first]);
      return 'deliver';
    },
    retryDelayMs: 100,
    clock: createManualClock(),
    logger: silentLogger,
  });
  const intake = createBatchIntake({ feed, sink, logger: silentLogger, accepts: () => true });
  const take = async (batch: Batch) => {
    await intake({ batch, isStale: () => false } as never);
    await settle();
  };
  return { feed, take, questions, offsets: () => delivered.map((d) => d.offset) };
}

describe('batch intake: offsets the client read but delivers to no one', () => {
  it('asks the brokers nothing when a transaction marker ended the previous fetch', async () => {
    const { take, questions, offsets } = setup();
    await take(fetched(0, [record(0), record(1), record(2), marker(3)]));
    // kafkajs goes on after the marker, from offset 4
    await take(fetched(4, [record(4), record(5), marker(6)]));
    await take(fetched(7, [record(7)]));
    expect(offsets()).toEqual([0, 1, 2, 4, 5, 7]);
    expect(questions).toEqual([]);
  });

  it('asks nothing when records the client fetched from the expected offset start later (compacted, aborted, or a marker fetched alone)', async () => {
    const { feed, take, questions, offsets } = setup();
    feed.expect({ topic: T, partition: 0 }, 10);
    await take(fetched(10, [record(13), record(14)]));
    expect(offsets()).toEqual([13, 14]);
    expect(questions).toEqual([]);
  });

  it('still asks when the client fetched from past the expected offset, as it does after its out-of-range reset', async () => {
    const { feed, take, questions, offsets } = setup();
    feed.expect({ topic: T, partition: 0 }, 10);
    await take(fetched(40, [record(40), record(41)]));
    expect(questions).toEqual([[10, 40]]);
    expect(offsets()).toEqual([40, 41]);
  });
});
