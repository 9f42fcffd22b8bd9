import * as snappyjs from 'snappyjs';

/**
 * The stream header of snappy-java's blocked format, which Kafka's Java client writes: `\x82SNAPPY\0`,
 * then a version and a lowest compatible version (two big-endian int32), then blocks, each a
 * big-endian int32 size and one raw Snappy block. librdkafka writes one raw Snappy block instead,
 * and reads both; so does this codec.
 */
const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER_BYTES = 16;
const XERIAL_VERSION = 1;
/** Uncompressed bytes per written block, snappy-java's default. */
const XERIAL_BLOCK_BYTES = 32 * 1024;
/**
 * Snappy's densest element is a 3-byte copy of 64 bytes: no valid block expands more than this, so
 * a corrupt length prefix cannot make the decoder allocate more.
 */
const MAX_EXPANSION = 22;

/** Decompresses a Kafka Snappy payload, framed (snappy-java) or raw (librdkafka). */
export function snappyDecompress(data: Buffer): Buffer {
  if (!isFramed(data)) return rawBlock(data);
  const blocks: Buffer[] = [];
  let at = XERIAL_HEADER_BYTES;
  while (at < data.length) {
    if (at + 4 > data.length) throw new Error(`snappy-java framing cut short: ${data.length - at} bytes where a block size belongs, at byte ${at}`);
    const size = data.readInt32BE(at);
    at += 4;
    if (size < 0 || at + size > data.length) throw new Error(`snappy-java block at byte ${at - 4} claims ${size} bytes, ${data.length - at} are left`);
    blocks.push(rawBlock(data.subarray(at, at + size)));
    at += size;
  }
  return Buffer.concat(blocks);
}

/** Compresses in snappy-java's framing, which every Kafka client reads. */
export function snappyCompress(data: Buffer): Buffer {
  const header = Buffer.alloc(XERIAL_HEADER_BYTES);
  XERIAL_MAGIC.copy(header);
  header.writeInt32BE(XERIAL_VERSION, 8);
  header.writeInt32BE(XERIAL_VERSION, 12);
  const parts: Buffer[] = [header];
  for (let at = 0; at < data.length; at += XERIAL_BLOCK_BYTES) {
    const block = snappyjs.compress(data.subarray(at, at + XERIAL_BLOCK_BYTES));
    const size = Buffer.alloc(4);
    size.writeInt32BE(block.length);
    parts.push(size, block);
  }
  return Buffer.concat(parts);
}

function isFramed(data: Buffer): boolean {
  return data.length >= XERIAL_HEADER_BYTES && data.subarray(0, XERIAL_MAGIC.length).equals(XERIAL_MAGIC);
}

function rawBlock(block: Buffer): Buffer {
  return snappyjs.uncompress(block, block.length * MAX_EXPANSION);
}
