import type { Admin, Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import { checkRecordRange, CoreErrors, HeraldError, uuidv7 } from '@herald/core';
import type { Delivery, Logger, RecordRange, RecordReader } from '@herald/core';
import type { ResolvedKafkaOptions } from '../options.js';
import { undecodableBatchOf, undecodableError } from './compression/undecodable.js';
import { withTimeout } from './deadline.js';
import { toDelivery } from './delivery.js';
import { toHeraldError } from './errors.js';

/** Prefix of the throwaway groups readers run under (see `isInternalGroup`). */
export const READER_GROUP_PREFIX = 'herald-reader-';

export interface RecordReaderDeps {
  readonly kafka: Kafka;
  readonly admin: () => Promise<Admin>;
  readonly options: ResolvedKafkaOptions;
  readonly logger: Logger;
}

/** The reader ability, with the consumers it keeps open until `close`. */
export interface KafkaRecordReader extends RecordReader {
  close(): Promise<void>;
}

/** One read in progress: which offsets are wanted and what has come so far. */
interface Wanted {
  readonly partition: number;
  /** Next offset to take. */
  next: number;
  /** One past the last offset to take: the end of the range, or the partition's end when the read began. */
  readonly until: number;
  readonly limit: number;
  readonly got: Delivery[];
  done(): void;
}

/**
 * Reads partitions outside the app's groups. Kafka's client fetches only as a group member, so each
 * topic gets one reader consumer under a throwaway group (`herald-reader-<uuid>`, the approach of
 * `scanForTimestamp`) that never commits: it joins once (the first read of a topic waits for the
 * join), keeps every partition paused, and for each read seeks the partition to the offset wanted,
 * resumes it until the range is in, and pauses it again. Reads of one topic run one at a time.
 * Before fetching, the partition's offsets are looked up: a read at or past the end resolves empty
 * at once, below the start it begins at the start, and a missing topic or partition reads as empty
 * (the admin client never auto-creates topics). Offsets with nothing to deliver (transaction
 * markers, records of aborted transactions) count as read, so a read may return fewer records
 * than its range has offsets; when the first `limit` offsets hold none, it reads on (up to the end
 * the partition had when the read began), so below the end it returns at least one record. A read that does not complete within
 * `requestTimeoutMs` fails with a retriable `timeout`. A read that meets a record batch no codec
 * could decompress returns the records before it, or, when there are none, fails with
 * `record-batch-undecodable` naming the batch's offsets.
 */
export function createRecordReader(deps: RecordReaderDeps): KafkaRecordReader {
  const readers = new Map<string, TopicReader>();
  let closed = false;

  function readerOf(topic: string): TopicReader {
    // a read that passed its check before `close` ran must not open a consumer nobody disconnects
    if (closed) throw closedError();
    let reader = readers.get(topic);
    if (!reader || reader.broken) {
      reader = topicReader(deps, topic);
      readers.set(topic, reader);
    }
    return reader;
  }

  return {
    async read(range: RecordRange) {
      checkRecordRange(range, 'kafka');
      if (closed) throw closedError();
      const { topic, partition } = range;
      let bounds: { start: number; end: number } | undefined;
      try {
        const admin = await deps.admin();
        if (!(await admin.listTopics()).includes(topic)) return [];
        const offsets = await admin.fetchTopicOffsets(topic);
        const found = offsets.find((o) => o.partition === partition);
        bounds = found && { start: Number(found.low), end: Number(found.high) };
      } catch (error) {
        throw toHeraldError(error, `looking up offsets of '${topic}' to read it`);
      }
      if (!bounds) return [];
      // a range of offsets with nothing to deliver (an aborted transaction's records, markers) is
      // passed over to the next, up to the end: a caller reading on from where it stopped would
      // otherwise read the same empty range for ever
      for (let from = Math.max(range.from, bounds.start); from < bounds.end; from = Math.min(from + range.limit, bounds.end)) {
        const got = await readerOf(topic).read(partition, from, Math.min(from + range.limit, bounds.end));
        if (got.length > 0) return got;
      }
      return [];
    },
    async close() {
      closed = true;
      await Promise.all([...readers.values()].map((r) => r.close()));
      readers.clear();
    },
  };
}

function closedError(): HeraldError {
  return new HeraldError(CoreErrors.closed, 'kafka: cannot read, the broker is closed');
}

interface TopicReader {
  /** Its consumer crashed: a new reader (and group) replaces it. */
  readonly broken: boolean;
  read(partition: number, from: number, until: number): Promise<Delivery[]>;
  close(): Promise<void>;
}

function topicReader(deps: RecordReaderDeps, topic: string): TopicReader {
  const { options } = deps;
  const consumer: Consumer = deps.kafka.consumer({
    groupId: `${READER_GROUP_PREFIX}${uuidv7()}`,
    sessionTimeout: options.group.sessionTimeoutMs,
    heartbeatInterval: options.group.heartbeatIntervalMs,
    rebalanceTimeout: options.group.rebalanceTimeoutMs,
    maxWaitTimeInMs: options.fetch.maxWaitMs,
    maxBytesPerPartition: options.fetch.maxBytesPerPartition,
    allowAutoTopicCreation: false,
    retry: { retries: options.retries, restartOnFailure: async () => false },
  });
  let wanted: Wanted | undefined;
  let failed: ((error: unknown) => void) | undefined;
  let broken = false;
  let queue: Promise<unknown> = Promise.resolve();
  /** `close` was called: a start under way connects nothing more. */
  let stopped = false;
  const notStopped = () => {
    if (stopped) throw closedError();
  };

  const joined = new Promise<void>((resolve, reject) => {
    consumer.on(consumer.events.GROUP_JOIN, () => {
      // nothing is fetched unless a read asks for it (a rejoin pauses everything again)
      consumer.pause([{ topic }]);
      if (wanted) consumer.resume([{ topic, partitions: [wanted.partition] }]);
      resolve();
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      broken = true;
      reject(payload.error);
      failed?.(payload.error);
    });
  });
  joined.catch(() => {}); // awaited by reads; this only keeps an early crash from counting as unhandled

  function onBatch({ batch, isStale }: EachBatchPayload): Promise<void> {
    const want = wanted;
    if (!want || batch.partition !== want.partition || isStale()) return Promise.resolve();
    const tp = { topic, partition: want.partition };
    for (const message of batch.messages) {
      const undecodable = undecodableBatchOf(message);
      if (undecodable && undecodable.firstOffset < want.until) {
        if (want.got.length > 0) want.done();
        else failed?.(undecodableError(tp, undecodable));
        return Promise.resolve();
      }
      const offset = Number(message.offset);
      if (offset < want.next) continue;
      if (offset >= want.until || want.got.length >= want.limit) break;
      want.got.push(toDelivery(tp, message));
      want.next = offset + 1;
    }
    // control records take offsets but never reach `messages`
    passOver(want, Number(batch.lastOffset()));
    return Promise.resolve();
  }

  /** The batch's offsets up to `last` are all read: moves the read past them, and ends it at its range's end. */
  function passOver(want: Wanted, last: number): void {
    want.next = Math.max(want.next, Math.min(last + 1, want.until));
    if (want.next >= want.until || want.got.length >= want.limit) want.done();
  }

  // kafkajs calls eachBatch only for a batch with records left once it dropped those of aborted
  // transactions and the transaction markers; a batch of nothing else (a marker fetched alone, an
  // aborted transaction's tail) shows only in this event, and without it a read whose range ends in
  // such offsets would wait for records that never come and time out. An event with no records
  // (`batchSize` 0) proves there is nothing to deliver from its first offset to its last, so it may
  // move the read on only if it starts at or before the next offset wanted (a batch fetched before
  // the read's seek, from further on, must not).
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    const want = wanted;
    if (!want || payload.topic !== topic || payload.partition !== want.partition || payload.batchSize > 0) return;
    // firstOffset is null when every record fetched lay below the fetched offset: kafkajs then takes that one as read
    const first = Number((payload.firstOffset as string | null) ?? payload.lastOffset);
    if (first <= want.next) passOver(want, Number(payload.lastOffset));
  });

  const started = (async () => {
    await consumer.connect();
    notStopped();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    notStopped();
    await consumer.run({ autoCommit: false, eachBatch: onBatch });
    await withTimeout(joined, options.group.rebalanceTimeoutMs + options.requestTimeoutMs, `joining a reader group for '${topic}'`);
  })();
  let starting = true;
  started
    .catch(() => {
      broken = true;
    })
    .finally(() => (starting = false));

  async function readOnce(partition: number, from: number, until: number): Promise<Delivery[]> {
    try {
      await started;
    } catch (error) {
      throw toHeraldError(error, `starting a reader of '${topic}'`);
    }
    const got: Delivery[] = [];
    const complete = new Promise<void>((resolve, reject) => {
      wanted = { partition, next: from, until, limit: until - from, got, done: resolve };
      failed = reject;
    });
    try {
      consumer.seek({ topic, partition, offset: String(from) });
      consumer.resume([{ topic, partitions: [partition] }]);
      await withTimeout(complete, options.requestTimeoutMs, `reading '${topic}'/${partition} from offset ${from}`);
      return got;
    } catch (error) {
      throw toHeraldError(error, `reading '${topic}'/${partition}`);
    } finally {
      wanted = undefined;
      failed = undefined;
      // the whole topic, as at the join: pausing one partition makes kafkajs drop its topic-wide
      // pause, and every other partition would be fetched (from earliest) only to be thrown away.
      // Not after a crash: kafkajs refuses then ("Consumer group was not initialized"), which would
      // replace the crash's error; a new reader replaces this one anyway
      if (!broken) consumer.pause([{ topic }]);
    }
  }

  return {
    get broken() {
      return broken;
    },
    read(partition, from, until) {
      const result = queue.then(() => readOnce(partition, from, until));
      queue = result.catch(() => {});
      return result;
    },
    async close() {
      stopped = true;
      const disconnect = () =>
        withTimeout(consumer.disconnect(), options.closeTimeoutMs, `closing the reader of '${topic}'`).catch((error: unknown) =>
          deps.logger.warn('kafka: closing a reader failed', { topic, error }),
        );
      const wasStarting = starting;
      await disconnect();
      // a connect under way when the disconnect ran may finish after it: disconnect again once the start ends
      if (wasStarting) void started.catch(() => {}).then(disconnect);
    },
  };
}
