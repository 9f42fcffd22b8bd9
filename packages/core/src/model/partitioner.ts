/**
 * Kafka's default partitioner for keyed records: murmur2 of the key's UTF-8 bytes, made positive,
 * modulo the partition count. The embedded log and the Kafka adapter both use this function, so a
 * key lands on the same partition number on either engine (and as a Java producer would put it).
 */
export function partitionForKey(key: string, partitions: number): number {
  const hash = isAscii(key) ? murmur2Bytes(scratch, key.length) : murmur2(Buffer.from(key, 'utf8'));
  return (hash & 0x7fffffff) % partitions;
}

/** Murmur2 (32-bit) with Kafka's seed, as in Kafka's `Utils.murmur2`. */
export function murmur2(data: Uint8Array): number {
  return murmur2Bytes(data, data.length);
}

/**
 * A key of ASCII characters is its own UTF-8: {@link isAscii} copies its bytes into this one
 * reused buffer instead of a new Buffer per call (this runs for every record published, on every
 * engine). Valid until the next call.
 */
const scratch = new Uint8Array(128);
function isAscii(key: string): boolean {
  if (key.length > scratch.length) return false;
  for (let i = 0; i < key.length; i++) {
    const code = key.charCodeAt(i);
    if (code > 0x7f) return false;
    scratch[i] = code;
  }
  return true;
}

/** Murmur2 of the first `length` bytes of `data`. */
function murmur2Bytes(data: Uint8Array, length: number): number {
  const seed = 0x9747b28c;
  const m = 0x5bd1e995;
  const r = 24;
  let h = seed ^ length;
  const length4 = length >> 2;
  for (let i = 0; i < length4; i++) {
    const i4 = i << 2;
    let k = (data[i4]! & 0xff) | ((data[i4 + 1]! & 0xff) << 8) | ((data[i4 + 2]! & 0xff) << 16) | ((data[i4 + 3]! & 0xff) << 24);
    k = Math.imul(k, m);
    k ^= k >>> r;
    k = Math.imul(k, m);
    h = Math.imul(h, m);
    h ^= k;
  }
  const tail = length4 << 2;
  const rest = length - tail;
  if (rest === 3) h ^= (data[tail + 2]! & 0xff) << 16;
  if (rest >= 2) h ^= (data[tail + 1]! & 0xff) << 8;
  if (rest >= 1) {
    h ^= data[tail]! & 0xff;
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}
