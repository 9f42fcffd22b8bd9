import { randomFillSync } from 'node:crypto';

const pool = Buffer.allocUnsafe(16 * 256);
let poolOffset = pool.length;
let lastMs = -1;
let sequence = 0;

/** ASCII codes of the two hex digits of every byte value. */
const HEX_HIGH = new Uint8Array(256);
const HEX_LOW = new Uint8Array(256);
for (let i = 0; i < 256; i++) {
  const digits = i.toString(16).padStart(2, '0');
  HEX_HIGH[i] = digits.charCodeAt(0);
  HEX_LOW[i] = digits.charCodeAt(1);
}
/** Where each of the 16 bytes' digits go in the 36-character form (dashes at 8, 13, 18, 23). */
const AT = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];
/** The text of one id, written in place: one string per id, no intermediate buffers or slices. */
const text = Buffer.from('00000000-0000-0000-0000-000000000000', 'latin1');

/**
 * A UUIDv7 (RFC 9562): 48-bit Unix milliseconds, then a 12-bit counter seeded randomly each
 * millisecond (method 1 of RFC 9562 section 6.2), then 62 random bits. Ids made by one process are
 * strictly increasing, so they sort by creation time, and index well as primary keys.
 */
export function uuidv7(nowMs: number = Date.now()): string {
  if (poolOffset + 16 > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const at = poolOffset;
  poolOffset += 16;
  let ms = nowMs;
  if (ms > lastMs) {
    lastMs = ms;
    sequence = ((pool[at + 6]! & 0x07) << 8) | pool[at + 7]!; // start low so the counter has room to grow
  } else {
    ms = lastMs;
    sequence++;
    if (sequence > 0xfff) {
      lastMs = ++ms; // counter exhausted: borrow the next millisecond, keeping order
      sequence = 0;
    }
  }
  pool[at] = (ms / 2 ** 40) & 0xff;
  pool[at + 1] = (ms / 2 ** 32) & 0xff;
  pool[at + 2] = (ms >>> 24) & 0xff;
  pool[at + 3] = (ms >>> 16) & 0xff;
  pool[at + 4] = (ms >>> 8) & 0xff;
  pool[at + 5] = ms & 0xff;
  pool[at + 6] = 0x70 | ((sequence >>> 8) & 0x0f);
  pool[at + 7] = sequence & 0xff;
  pool[at + 8] = 0x80 | (pool[at + 8]! & 0x3f);
  for (let i = 0; i < 16; i++) {
    const byte = pool[at + i]!;
    text[AT[i]!] = HEX_HIGH[byte]!;
    text[AT[i]! + 1] = HEX_LOW[byte]!;
  }
  return text.toString('latin1', 0, 36);
}

/** The millisecond timestamp embedded in a UUIDv7. */
export function uuidv7Time(id: string): number {
  return parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}
