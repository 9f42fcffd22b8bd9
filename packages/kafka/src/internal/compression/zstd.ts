import { decompress } from 'fzstd';

/** Decompresses Zstandard frames (Kafka writes the standard format, one or more frames). */
export function zstdDecompress(data: Buffer): Buffer {
  const out = decompress(data);
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}
