import kafkajs from 'kafkajs';
import { HeraldError } from '@herald/core';
import { KafkaErrors } from '../../errors.js';
import { lz4Compress, lz4Decompress } from './lz4.js';
import { snappyCompress, snappyDecompress } from './snappy.js';
import { headerBefore, recordsProblem, standInRecords } from './undecodable.js';
import { zstdDecompress } from './zstd.js';

/** A kafkajs compression codec; `compress` is given kafkajs's encoder, whose bytes are in `buffer`. */
export interface Codec {
  compress(encoder: { buffer: Buffer }): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
}

/** kafkajs's codec table (`CompressionCodecs`): a factory per codec id, called for every batch. */
export type CodecTable = Record<number, (() => Codec) | undefined>;

/** Kafka's codec ids, the low three bits of a batch's attributes: 0 is none, 5 to 7 name no codec. */
const CODEC_IDS = [1, 2, 3, 4, 5, 6, 7] as const;
const NAMES: Readonly<Record<number, string>> = { 1: 'gzip', 2: 'snappy', 3: 'lz4', 4: 'zstd' };

/** Marks the table's factories this package installed, so none is wrapped twice (two copies of the package in one process). */
const GUARDED = Symbol.for('@herald/kafka/guarded-codec');

/** A codec's name in messages: `snappy`..., or `codec id N` for an id Kafka does not define. */
export function codecName(id: number): string {
  return NAMES[id] ?? `codec id ${id}`;
}

let registered = false;

/**
 * Makes kafkajs read every codec Kafka defines, once per process whatever the number of clients:
 * see {@link installCodecs}. Herald itself publishes only uncompressed or gzip records.
 */
export function registerCodecs(): void {
  if (registered) return;
  registered = true;
  installCodecs(kafkajs.CompressionCodecs as unknown as CodecTable);
}

/**
 * Fills a kafkajs codec table: snappy (snappy-java framed or raw), lz4 (frame format) and zstd where
 * kafkajs has only its "not implemented" placeholder, and ids 5 to 7, which kafkajs would otherwise
 * read as uncompressed records. A codec registered before (kafkajs's gzip, or one of the
 * application's) is kept, only wrapped: every codec's failure to decompress a batch then stands in
 * the batch's records (see `standInRecords`), so the fetch and the partition's reader see which
 * batch failed, instead of kafkajs failing the whole fetch with the codec's bare error.
 */
export function installCodecs(table: CodecTable): void {
  for (const id of CODEC_IDS) {
    const current = table[id];
    if (current !== undefined && GUARDED in current) continue;
    const own = current === undefined || isPlaceholder(current) ? ownCodec(id) : undefined;
    const base = own ? () => own : current!;
    table[id] = Object.assign(() => guarded(id, base()), { [GUARDED]: true });
  }
}

/** kafkajs 2.2.4's entry for a codec it lacks: a factory that throws `KafkaJSNotImplemented`. */
function isPlaceholder(factory: () => Codec): boolean {
  try {
    factory();
    return false;
  } catch (error) {
    return (error as { name?: unknown } | null)?.name === 'KafkaJSNotImplemented';
  }
}

function ownCodec(id: number): Codec {
  switch (id) {
    case 2:
      return { compress: async (encoder) => snappyCompress(encoder.buffer), decompress: async (buffer) => snappyDecompress(buffer) };
    case 3:
      return { compress: async (encoder) => lz4Compress(encoder.buffer), decompress: async (buffer) => lz4Decompress(buffer) };
    case 4:
      // fzstd only decompresses
      return { compress: notProduced(id), decompress: async (buffer) => zstdDecompress(buffer) };
    default:
      return {
        compress: notProduced(id),
        decompress: () => Promise.reject(new Error(`Kafka defines no compression codec with id ${id}`)),
      };
  }
}

function notProduced(id: number): () => Promise<Buffer> {
  return () =>
    Promise.reject(
      new HeraldError(KafkaErrors.compressionUnsupported, `kafka: this client reads ${codecName(id)}-compressed records but does not write them; publish uncompressed or with gzip`),
    );
}

/** `codec` whose decompression failures become stand-in records; a payload that decompresses into something other than the batch's records fails too. */
function guarded(id: number, codec: Codec): Codec {
  const name = codecName(id);
  return {
    compress: (encoder) => codec.compress(encoder),
    async decompress(buffer) {
      let records: Buffer;
      try {
        records = await codec.decompress(buffer);
      } catch (cause) {
        return standInRecords(buffer, id, name, cause);
      }
      const header = headerBefore(buffer, id);
      const problem = header && recordsProblem(records, header.count);
      return problem === undefined ? records : standInRecords(buffer, id, name, new Error(`it decompressed, but ${problem}`));
    },
  };
}
