import { describe, expect, it } from 'vitest';
import { gzipSync } from 'node:zlib';
import kafkajs from 'kafkajs';
import * as snappyjs from 'snappyjs';
import { hash as xxh32 } from 'lz4js/xxh32.js';
import { installCodecs } from '../src/internal/compression/codecs.js';
import type { Codec, CodecTable } from '../src/internal/compression/codecs.js';
import { lz4Compress, lz4Decompress } from '../src/internal/compression/lz4.js';
import { snappyCompress, snappyDecompress } from '../src/internal/compression/snappy.js';
import { undecodableBatchOf, undecodableError, recordsProblem } from '../src/internal/compression/undecodable.js';

/** Text that compresses, and runs over several codec blocks (snappy-java 32 KiB, LZ4 64 KiB). */
const text = Buffer.from(Array.from({ length: 4_000 }, (_, i) => `record ${i} café ✓ ${i % 7}\n`).join(''));

/** kafkajs's codec table as kafkajs ships it (a copy: the real one is filled when a client is made). */
const pristine = () => ({ ...(kafkajs.CompressionCodecs as unknown as CodecTable) });

/**
 * A v2 record batch as kafkajs hands its records to a codec: a view starting right after the
 * 61-byte batch header, in the same memory. `count` records from offset 40, codec `codecId`.
 */
function batchPayload(codecId: number, payload: Buffer, count: number): Buffer {
  const header = Buffer.alloc(61);
  header.writeBigInt64BE(40n, 0);
  header.writeInt32BE(49 + payload.length, 8);
  header.writeInt8(2, 16);
  header.writeInt16BE(codecId, 21);
  header.writeInt32BE(count - 1, 23); // last offset delta
  header.writeBigInt64BE(1_700_000_000_000n, 35); // max timestamp
  header.writeInt32BE(count, 57);
  return Buffer.concat([header, payload]).subarray(61);
}

/** `count` records as they sit in a batch once decompressed, each a zigzag varint length (3) and 3 bytes. */
function records(count: number): Buffer {
  return Buffer.concat(Array.from({ length: count }, (_, i) => Buffer.from([6, 0, 0, 2 * i])));
}

describe('snappy', () => {
  it('reads a raw block (librdkafka) and snappy-java framing (Java client), and writes the framing', () => {
    expect(snappyDecompress(snappyjs.compress(text))).toEqual(text);
    const framed = snappyCompress(text);
    expect(framed.subarray(0, 8)).toEqual(Buffer.from('\x82SNAPPY\0', 'latin1'));
    expect(framed.readInt32BE(16), 'first block size').toBeLessThan(32 * 1024);
    expect(snappyDecompress(framed)).toEqual(text);
  });

  it('refuses corrupt data and a framing cut short', () => {
    expect(() => snappyDecompress(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2]))).toThrow();
    const framed = snappyCompress(text);
    expect(() => snappyDecompress(framed.subarray(0, framed.length - 3))).toThrow(/claims \d+ bytes/);
  });
});

describe('lz4 frames', () => {
  it('round-trips through independent 64 KiB blocks, the only kind Kafka\'s Java client reads', () => {
    const frame = lz4Compress(text);
    expect(frame.readUInt32LE(0)).toBe(0x184d2204);
    expect(frame[4]! & 0x20, 'block independence flag').toBe(0x20);
    expect(frame[6], 'descriptor checksum').toBe((xxh32(0, frame, 4, 2) >> 8) & 0xff);
    expect(lz4Decompress(frame)).toEqual(text);
  });

  it('checks a content checksum when the frame carries one', () => {
    const frame = lz4Compress(text);
    frame[4] = frame[4]! | 0x04;
    const sum = Buffer.alloc(4);
    sum.writeUInt32LE(xxh32(0, text, 0, text.length));
    expect(lz4Decompress(Buffer.concat([frame, sum]))).toEqual(text);
    sum.writeUInt32LE((xxh32(0, text, 0, text.length) + 1) >>> 0);
    expect(() => lz4Decompress(Buffer.concat([frame, sum]))).toThrow(/content checksum/);
  });

  it('refuses a frame without the magic number, or cut short', () => {
    expect(() => lz4Decompress(Buffer.from('not lz4 at all'))).toThrow(/magic/);
    const frame = lz4Compress(text);
    expect(() => lz4Decompress(frame.subarray(0, 100))).toThrow(/claims|cut short/);
  });
});

describe('installCodecs', () => {
  it('fills the codecs kafkajs lacks, and reads them', async () => {
    const table = pristine();
    installCodecs(table);
    const payload = records(3);
    expect(await table[2]!().decompress(batchPayload(2, snappyCompress(payload), 3))).toEqual(payload);
    expect(await table[3]!().decompress(batchPayload(3, lz4Compress(payload), 3))).toEqual(payload);
    expect(await table[1]!().decompress(batchPayload(1, gzipSync(payload), 3)), "kafkajs's own gzip, kept").toEqual(payload);
  });

  it('keeps a codec the application registered, and wraps a table only once', async () => {
    const table = pristine();
    const decoded = records(2);
    const mine: Codec = { compress: async () => Buffer.alloc(0), decompress: async () => decoded };
    table[2] = () => mine;
    installCodecs(table);
    const installed = table[2];
    installCodecs(table);
    expect(table[2], 'a second install changes nothing').toBe(installed);
    expect(await table[2]!().decompress(batchPayload(2, Buffer.from('anything'), 2))).toBe(decoded);
  });

  it('stands in recognisable records for a batch that does not decompress, whatever the codec', async () => {
    const table = pristine();
    installCodecs(table);
    for (const id of [1, 2, 3, 4, 5, 7]) {
      const out = await table[id]!().decompress(batchPayload(id, Buffer.from('corrupt payload'), 3));
      expect(recordsProblem(out, 3), `codec ${id}: kafkajs can decode the stand-ins`).toBeUndefined();
      const value = out.subarray(out.length / 3 - 2, out.length / 3 - 1); // a stand-in's 1-byte value, as kafkajs slices it
      const batch = undecodableBatchOf({ value });
      expect(batch, `codec ${id}`).toMatchObject({ firstOffset: 40, lastOffset: 42, maxTimestamp: 1_700_000_000_000 });
      expect(batch!.codec).toBe({ 1: 'gzip', 2: 'snappy', 3: 'lz4', 4: 'zstd', 5: 'codec id 5', 7: 'codec id 7' }[id]);
    }
    expect(undecodableBatchOf({ value: Buffer.from([0]) }), 'a real record with the same bytes').toBeUndefined();
  });

  it('fails a payload that decompresses into something other than the batch\'s records', async () => {
    const table = pristine();
    installCodecs(table);
    const out = await table[1]!().decompress(batchPayload(1, gzipSync(Buffer.from('not records')), 3));
    const batch = undecodableBatchOf({ value: out.subarray(out.length / 3 - 2, out.length / 3 - 1) });
    expect(String((batch!.cause as Error).message)).toMatch(/it decompressed, but/);
  });

  it('names the batch only when it can: a payload not preceded by its batch header fails the fetch with record-batch-undecodable', async () => {
    const table = pristine();
    installCodecs(table);
    await expect(table[2]!().decompress(Buffer.from('corrupt, and no header before it'))).rejects.toMatchObject({ code: 'record-batch-undecodable' });
  });

  it('names whatever a codec rejects with, an object without a prototype too, and still fails with record-batch-undecodable', async () => {
    const table = pristine();
    // an application's codec may reject with anything; String() throws on an object without a prototype
    const odd = Object.assign(Object.create(null) as object, { reason: 'bad block' });
    table[2] = () => ({ compress: async () => Buffer.alloc(0), decompress: () => Promise.reject(odd) });
    installCodecs(table);
    const out = await table[2]!().decompress(batchPayload(2, Buffer.from('corrupt payload'), 1));
    const batch = undecodableBatchOf({ value: out.subarray(out.length - 2, out.length - 1) });
    expect(batch?.cause).toBe(odd);
    const error = undecodableError({ topic: 'orders', partition: 0 }, batch!);
    expect(error).toMatchObject({ code: 'record-batch-undecodable', message: expect.stringContaining('did not decompress ({"reason":"bad block"})') });
    await expect(table[2]!().decompress(Buffer.from('no header before it'))).rejects.toMatchObject({ code: 'record-batch-undecodable' });
  });

  it('says that zstd is read but not written', async () => {
    const table = pristine();
    installCodecs(table);
    await expect(table[4]!().compress({ buffer: text })).rejects.toMatchObject({ code: 'compression-unsupported' });
  });
});
