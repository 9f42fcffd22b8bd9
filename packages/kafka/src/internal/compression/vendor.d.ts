// Types of the pure-JavaScript codec libraries the adapter uses; they ship none of their own.

declare module 'snappyjs' {
  /** Decompresses one raw Snappy block; throws when the data is not one, or would exceed `maxLength`. */
  export function uncompress(compressed: Uint8Array, maxLength?: number): Buffer;
  /** Compresses into one raw Snappy block. */
  export function compress(uncompressed: Uint8Array): Buffer;
}

declare module 'lz4js' {
  /** Worst-case size of `n` bytes compressed into one LZ4 block. */
  export function compressBound(n: number): number;
  /** Decompresses one LZ4 block of `src` into `dst` from `dIndex`; returns the index after the last byte written. */
  export function decompressBlock(src: Uint8Array, dst: Uint8Array, sIndex: number, sLength: number, dIndex: number): number;
  /** Compresses `sLength` bytes of `src` into one LZ4 block; returns its size, 0 when nothing could be encoded. */
  export function compressBlock(src: Uint8Array, dst: Uint8Array, sIndex: number, sLength: number, hashTable: Uint32Array): number;
}

declare module 'lz4js/xxh32.js' {
  /** XXH32 of `length` bytes of `src` from `index`. */
  export function hash(seed: number, src: Uint8Array, index: number, length: number): number;
}
