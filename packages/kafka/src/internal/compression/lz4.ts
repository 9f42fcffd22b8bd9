import * as lz4js from 'lz4js';
import { hash as xxh32 } from 'lz4js/xxh32.js';

/**
 * LZ4's frame format, which Kafka uses from message format v1 on (Kafka 0.10): a magic number, a
 * descriptor (flags, block size, optional content size and dictionary id, a one-byte checksum),
 * blocks (a little-endian uint32 size whose high bit marks a stored block, the data, an optional
 * checksum), a zero end mark and an optional content checksum (XXH32).
 */
const MAGIC = 0x184d2204;
const FLAG_VERSION = 0x40;
const FLAG_VERSION_MASK = 0xc0;
const FLAG_INDEPENDENT = 0x20;
const FLAG_BLOCK_CHECKSUM = 0x10;
const FLAG_CONTENT_SIZE = 0x08;
const FLAG_CONTENT_CHECKSUM = 0x04;
const FLAG_DICTIONARY = 0x01;
const STORED = 0x80000000;
/** Block size codes of the descriptor's second byte (bits 4-6) and their byte counts. */
const BLOCK_BYTES: Record<number, number> = { 4: 0x10000, 5: 0x40000, 6: 0x100000, 7: 0x400000 };
/** A sequence of LZ4 expands at most 255 times (each extra length byte adds 255): the output bound. */
const MAX_EXPANSION = 256;
/** Written frames: 64 KiB independent blocks, what Kafka's Java client writes and the only kind it reads. */
const WRITE_BLOCK_CODE = 4;

interface Block {
  readonly start: number;
  readonly size: number;
  readonly stored: boolean;
}

/** Decompresses one LZ4 frame, checking its structure and any checksums it carries. */
export function lz4Decompress(data: Buffer): Buffer {
  if (data.length < 7 || data.readUInt32LE(0) !== MAGIC) throw new Error('not an LZ4 frame (no magic number)');
  const flags = data[4]!;
  if ((flags & FLAG_VERSION_MASK) !== FLAG_VERSION) throw new Error(`LZ4 frame version ${(flags & FLAG_VERSION_MASK) >> 6} is not 1`);
  if (flags & FLAG_DICTIONARY) throw new Error('LZ4 frame needs a dictionary');
  const blockBytes = BLOCK_BYTES[(data[5]! >> 4) & 7];
  if (blockBytes === undefined) throw new Error(`LZ4 frame has an invalid block size code ${(data[5]! >> 4) & 7}`);
  // the descriptor checksum is not checked: Kafka's first LZ4 writers computed it wrongly
  let at = 6 + (flags & FLAG_CONTENT_SIZE ? 8 : 0) + 1;
  const blocks: Block[] = [];
  for (;;) {
    if (at + 4 > data.length) throw new Error(`LZ4 frame cut short at byte ${at}, before its end mark`);
    const word = data.readUInt32LE(at);
    at += 4;
    if (word === 0) break;
    const size = word & ~STORED;
    const end = at + size + (flags & FLAG_BLOCK_CHECKSUM ? 4 : 0);
    if (size > blockBytes || end > data.length) throw new Error(`LZ4 block at byte ${at - 4} claims ${size} bytes (at most ${blockBytes}, ${data.length - at} left)`);
    if (flags & FLAG_BLOCK_CHECKSUM && xxh32(0, data, at, size) !== data.readUInt32LE(at + size)) throw new Error(`LZ4 block at byte ${at - 4} fails its checksum`);
    blocks.push({ start: at, size, stored: (word & STORED) !== 0 });
    at = end;
  }
  const out = new Uint8Array(blocks.reduce((n, b) => n + (b.stored ? b.size : Math.min(blockBytes, b.size * MAX_EXPANSION)), 0));
  let written = 0;
  for (const b of blocks) {
    const before = written;
    if (b.stored) {
      out.set(data.subarray(b.start, b.start + b.size), written);
      written += b.size;
    } else {
      written = lz4js.decompressBlock(data, out, b.start, b.size, written);
    }
    if (!(written - before <= blockBytes && written <= out.length)) throw new Error(`LZ4 block at byte ${b.start - 4} decompresses past its bound`);
  }
  if (flags & FLAG_CONTENT_CHECKSUM) {
    if (at + 4 > data.length) throw new Error('LZ4 frame cut short before its content checksum');
    if (xxh32(0, out, 0, written) !== data.readUInt32LE(at)) throw new Error('LZ4 frame fails its content checksum');
  }
  return Buffer.from(out.buffer, 0, written);
}

/** Compresses into one LZ4 frame of independent 64 KiB blocks, without checksums. */
export function lz4Compress(data: Buffer): Buffer {
  const blockBytes = BLOCK_BYTES[WRITE_BLOCK_CODE]!;
  const header = Buffer.alloc(7);
  header.writeUInt32LE(MAGIC, 0);
  header[4] = FLAG_VERSION | FLAG_INDEPENDENT;
  header[5] = WRITE_BLOCK_CODE << 4;
  header[6] = (xxh32(0, header, 4, 2) >> 8) & 0xff;
  const parts: Buffer[] = [header];
  for (let at = 0; at < data.length; at += blockBytes) {
    const block = data.subarray(at, at + blockBytes);
    const packed = Buffer.alloc(lz4js.compressBound(block.length));
    // a fresh table per block: no match reaches into an earlier block
    const size = lz4js.compressBlock(block, packed, 0, block.length, new Uint32Array(1 << 16));
    const stored = size === 0 || size >= block.length;
    const word = Buffer.alloc(4);
    word.writeUInt32LE(stored ? (block.length | STORED) >>> 0 : size);
    parts.push(word, stored ? block : packed.subarray(0, size));
  }
  parts.push(Buffer.alloc(4));
  return Buffer.concat(parts);
}
