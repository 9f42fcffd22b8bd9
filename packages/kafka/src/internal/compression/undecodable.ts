import type { KafkaMessage } from 'kafkajs';
import { describeThrown, HeraldError } from '@herald/core';
import type { TopicPartition } from '@herald/core';
import { KafkaErrors } from '../../errors.js';

/** What is known of a record batch whose records could not be decompressed. */
export interface UndecodableBatch {
  /** The codec the batch names: `gzip`, `snappy`, `lz4`, `zstd` or `codec id N`. */
  readonly codec: string;
  readonly firstOffset: number;
  readonly lastOffset: number;
  /** The latest record time the batch header gives (ms): a time scan skips the batch when it is below the time sought. */
  readonly maxTimestamp: number;
  /** Why decompressing failed. */
  readonly cause: unknown;
}

/**
 * Batches stood in for, by the memory their stand-in records were decoded from. A record's value is
 * a view of the buffer it was decoded from, so only a stand-in's can point into one of these: no
 * record a producer wrote can pass for one. Kept on `globalThis` so that two copies of this package
 * in one process (which share kafkajs's codec table) recognise each other's stand-ins.
 */
const standIns: WeakMap<ArrayBufferLike, UndecodableBatch> = ((globalThis as Record<symbol, unknown>)[Symbol.for('@herald/kafka/undecodable-batches')] ??= new WeakMap()) as WeakMap<
  ArrayBufferLike,
  UndecodableBatch
>;

/**
 * Bytes of a v2 record batch (Kafka 0.11+) from its base offset up to its first record; its length
 * field counts the bytes after itself, 49 of them header.
 */
const HEADER_BYTES = 61;
const HEADER_AFTER_LENGTH = 49;
const MAGIC_V2 = 2;
const CODEC_MASK = 0x07;

/** The header of the v2 record batch whose compressed records `compressed` is, when that is what it is. */
interface BatchHeader {
  readonly baseOffset: number;
  readonly lastOffsetDelta: number;
  readonly maxTimestamp: number;
  readonly count: number;
}

/**
 * Reads the header of the record batch `compressed` came from. kafkajs 2.2.4 hands a codec a view of
 * the fetch response that starts right after the batch header, so the header is the 61 bytes before
 * it in the same memory. Those bytes are trusted only when they describe exactly this payload (magic
 * 2, the length field matching its size, the codec id matching); otherwise (a legacy message set,
 * or a client that copies) the result is undefined.
 */
export function headerBefore(compressed: Buffer, codecId: number): BatchHeader | undefined {
  if (compressed.byteOffset < HEADER_BYTES) return undefined;
  const header = Buffer.from(compressed.buffer, compressed.byteOffset - HEADER_BYTES, HEADER_BYTES);
  const fits =
    header.readInt32BE(8) === HEADER_AFTER_LENGTH + compressed.length && header.readInt8(16) === MAGIC_V2 && (header.readInt16BE(21) & CODEC_MASK) === codecId;
  const lastOffsetDelta = header.readInt32BE(23);
  const count = header.readInt32BE(57);
  if (!fits || lastOffsetDelta < 0 || count < 1 || count > lastOffsetDelta + 1) return undefined;
  return { baseOffset: Number(header.readBigInt64BE(0)), lastOffsetDelta, maxTimestamp: Number(header.readBigInt64BE(35)), count };
}

/**
 * What a codec hands kafkajs instead of records it could not decompress: the batch's record count of
 * stand-in records (all at the batch's last offset, so none falls before a fetch position inside the
 * batch), which {@link undecodableBatchOf} recognises. kafkajs then goes on with the partition's
 * other batches and the fetch's other partitions, and whoever reads the partition learns which
 * topic, partition and offsets cannot be read. Throws a `record-batch-undecodable` error when the
 * batch header cannot be found (a legacy message set): kafkajs then fails the whole fetch.
 */
export function standInRecords(compressed: Buffer, codecId: number, codec: string, cause: unknown): Buffer {
  const header = headerBefore(compressed, codecId);
  if (!header) {
    throw new HeraldError(KafkaErrors.batchUndecodable, `kafka: records compressed with ${codec} could not be decompressed (${describeThrown(cause)}), in a batch too old to locate`, {
      cause,
      details: { codec },
    });
  }
  // Record v2: attributes, timestamp delta, offset delta, key (null), value (1 byte), no headers
  const body = [0, 0, ...zigzag(header.lastOffsetDelta), ...zigzag(-1), ...zigzag(1), 0, ...zigzag(0)];
  const record = [...zigzag(body.length), ...body];
  // its own memory (not Buffer's shared pool), so the record values identify it
  const memory = new ArrayBuffer(record.length * header.count);
  const out = Buffer.from(memory);
  for (let i = 0; i < header.count; i++) out.set(record, i * record.length);
  standIns.set(memory, {
    codec,
    firstOffset: header.baseOffset,
    lastOffset: header.baseOffset + header.lastOffsetDelta,
    maxTimestamp: header.maxTimestamp,
    cause,
  });
  return out;
}

/** The batch a message stands in for (see {@link standInRecords}), or undefined for a real record. */
export function undecodableBatchOf(message: Pick<KafkaMessage, 'value'>): UndecodableBatch | undefined {
  const value = message.value;
  return Buffer.isBuffer(value) ? standIns.get(value.buffer) : undefined;
}

/** The `record-batch-undecodable` error for a batch found in a partition. */
export function undecodableError(tp: TopicPartition, batch: UndecodableBatch): HeraldError {
  const { codec, firstOffset, lastOffset } = batch;
  const which = firstOffset === lastOffset ? `record ${firstOffset}` : `records ${firstOffset}..${lastOffset}`;
  return new HeraldError(
    KafkaErrors.batchUndecodable,
    `kafka: ${which} of '${tp.topic}'/${tp.partition} cannot be read: a record batch compressed with ${codec} that did not decompress (${describeThrown(batch.cause)})`,
    { cause: batch.cause, details: { topic: tp.topic, partition: tp.partition, codec, firstOffset, lastOffset } },
  );
}

/** Kafka's zigzag varint of a 32-bit integer. */
function zigzag(value: number): number[] {
  let n = ((value << 1) ^ (value >> 31)) >>> 0;
  const bytes: number[] = [];
  while (n >= 0x80) {
    bytes.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  bytes.push(n);
  return bytes;
}

/**
 * Why `decompressed` cannot be the batch's records, or undefined when it can: it must split into
 * exactly `count` length-prefixed records. Catches a payload that decompressed into something else
 * before kafkajs, decoding it, would fail the whole fetch.
 */
export function recordsProblem(decompressed: Buffer, count: number): string | undefined {
  let at = 0;
  for (let i = 0; i < count; i++) {
    const length = readZigzag(decompressed, at);
    if (!length || length.value < 0 || length.next + length.value > decompressed.length) return `record ${i} of ${count} does not fit in the ${decompressed.length} decompressed bytes`;
    at = length.next + length.value;
  }
  return at === decompressed.length ? undefined : `${decompressed.length - at} bytes follow the batch's ${count} records`;
}

function readZigzag(buffer: Buffer, at: number): { value: number; next: number } | undefined {
  let n = 0;
  for (let shift = 0, i = at; shift < 35 && i < buffer.length; shift += 7, i++) {
    const byte = buffer[i]!;
    n |= (byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) return { value: (n >>> 1) ^ -(n & 1), next: i + 1 };
  }
  return undefined;
}
