import { describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';
import { Kafka, logLevel } from 'kafkajs';
import type { Consumer, EachBatchPayload } from 'kafkajs';
import { jsonLogger } from '@herald/core';
import { resolveKafkaOptions } from '../src/index.js';
import { createRecordReader } from '../src/internal/recordReader.js';

/** kafkajs 2.2.4's own fetched batch: it drops records of aborted transactions and control records. */
const Batch = createRequire(import.meta.url)('kafkajs/src/consumer/batch') as new (
  topic: string,
  fetchedOffset: string,
  partitionData: { partition: number; highWatermark: string; messages: RawRecord[]; abortedTransactions: { producerId: string; firstOffset: string }[] },
) => EachBatchPayload['batch'] & { isEmpty(): boolean; isEmptyDueToFiltering(): boolean; firstOffset(): string | null };

/** The consumer's event names, from a kafkajs consumer that never connects. */
const EVENTS = new Kafka({ brokers: ['127.0.0.1:1'], logLevel: logLevel.NOTHING }).consumer({ groupId: 'names' }).events;

interface RawRecord {
  offset: string;
  key: Buffer;
  value: Buffer;
  headers: Record<string, never>;
  timestamp: string;
  attributes: number;
  size: number;
  isControlRecord: boolean;
  batchContext: { producerId: string; inTransaction: boolean };
}

const TOPIC = 'orders';
const record = (offset: number, producerId = '-1'): RawRecord => ({
  offset: String(offset),
  key: Buffer.from(`k${offset}`),
  value: Buffer.from(`v${offset}`),
  headers: {},
  timestamp: '1700000000000',
  attributes: 0,
  size: 0,
  isControlRecord: false,
  batchContext: { producerId, inTransaction: producerId !== '-1' },
});
/** A transaction marker: control record key version 0, type 0 (abort) or 1 (commit). */
const marker = (offset: number, producerId: string, commit: boolean): RawRecord => ({
  ...record(offset, producerId),
  key: Buffer.from([0, 0, 0, commit ? 1 : 0]),
  isControlRecord: true,
});

interface Log {
  /** Each fetch answers with the next of these record batches, as a broker does under a small maxBytes. */
  readonly fetches: RawRecord[][];
  readonly abortedTransactions: { producerId: string; firstOffset: string }[];
  readonly highWatermark: number;
}

/**
 * A kafkajs client whose one-partition topic holds `log`. Its consumer joins on `run`, and while
 * partition 0 is resumed it fetches from the position it was sought to, handling each batch the
 * way kafkajs 2.2.4's runner does: eachBatch only when records are left after filtering, and
 * END_BATCH_PROCESS for every batch that had any.
 */
function fakeKafka(log: Log) {
  const listeners = new Map<string, ((event: unknown) => void)[]>();
  const emit = (type: string, payload: unknown) => listeners.get(type)?.forEach((listener) => listener({ id: 0, type, timestamp: 0, payload }));
  let eachBatch: ((payload: EachBatchPayload) => Promise<void>) | undefined;
  let paused = true;
  let position = 0;

  async function fetchWhileResumed(): Promise<void> {
    for (;;) {
      await new Promise((resolve) => setImmediate(resolve));
      const raw = log.fetches.find((batch) => batch.some((r) => Number(r.offset) >= position));
      if (paused || !raw) return;
      const batch = new Batch(TOPIC, String(position), { partition: 0, highWatermark: String(log.highWatermark), messages: raw, abortedTransactions: log.abortedTransactions });
      const payload = { topic: TOPIC, partition: 0, batchSize: batch.messages.length, firstOffset: batch.firstOffset(), lastOffset: batch.lastOffset() };
      if (!batch.isEmptyDueToFiltering()) {
        if (batch.isEmpty()) return;
        await eachBatch!({ batch, isStale: () => false } as unknown as EachBatchPayload);
      }
      emit(EVENTS.END_BATCH_PROCESS, { ...payload, duration: 0 });
      position = Number(batch.lastOffset()) + 1;
    }
  }

  const consumer = {
    events: EVENTS,
    on: (type: string, listener: (event: unknown) => void) => void listeners.set(type, [...(listeners.get(type) ?? []), listener]),
    connect: async () => {},
    subscribe: async () => {},
    run: async (config: { eachBatch: typeof eachBatch }) => {
      eachBatch = config.eachBatch;
      setImmediate(() => emit(EVENTS.GROUP_JOIN, {}));
    },
    seek: ({ offset }: { offset: string }) => void (position = Number(offset)),
    pause: () => void (paused = true),
    resume: () => {
      paused = false;
      void fetchWhileResumed();
    },
    disconnect: async () => {},
  } as unknown as Consumer;
  const admin = {
    listTopics: async () => [TOPIC],
    fetchTopicOffsets: async () => [{ partition: 0, low: '0', high: String(log.highWatermark), offset: String(log.highWatermark) }],
  };
  return { kafka: { consumer: () => consumer } as unknown as Kafka, admin: async () => admin as never };
}

describe('createRecordReader', () => {
  const options = resolveKafkaOptions({ brokers: ['127.0.0.1:1'], requestTimeoutMs: 2_000, logger: jsonLogger({ level: 'silent' }) });

  it.each([
    [
      'a transaction marker fetched on its own',
      { fetches: [[record(0, '7'), record(1, '7'), record(2, '7')], [marker(3, '7', true)]], abortedTransactions: [], highWatermark: 4 },
      ['v0', 'v1', 'v2'],
    ],
    [
      'the records of an aborted transaction and its marker',
      {
        fetches: [[record(0), record(1)], [record(2, '9'), record(3, '9'), marker(4, '9', false)]],
        abortedTransactions: [{ producerId: '9', firstOffset: '2' }],
        highWatermark: 5,
      },
      ['v0', 'v1'],
    ],
  ])('completes a read whose range ends in %s, which kafkajs never hands to eachBatch', async (_, log: Log, values) => {
    const { kafka, admin } = fakeKafka(log);
    const reader = createRecordReader({ kafka, admin, options, logger: options.logger });
    try {
      const read = await reader.read({ topic: TOPIC, partition: 0, from: 0, limit: 100 });
      expect(read.map((d) => d.value)).toEqual(values);
    } finally {
      await reader.close();
    }
  });

  it('reads past a whole range of offsets with nothing to deliver to the records after it, as its contract says', async () => {
    // offsets 0-2: an aborted transaction, 3: its marker, 4: a record. `herald tail` reads on from
    // where it stopped with a limit: a read of 0-3 that returned nothing would be asked again for ever
    const log: Log = {
      fetches: [[record(0, '9'), record(1, '9'), record(2, '9')], [marker(3, '9', false)], [record(4)]],
      abortedTransactions: [{ producerId: '9', firstOffset: '0' }],
      highWatermark: 5,
    };
    const { kafka, admin } = fakeKafka(log);
    const reader = createRecordReader({ kafka, admin, options, logger: options.logger });
    try {
      const read = await reader.read({ topic: TOPIC, partition: 0, from: 0, limit: 2 });
      expect(read.map((d) => [d.offset, d.value])).toEqual([[4, 'v4']]);
    } finally {
      await reader.close();
    }
  });
});
