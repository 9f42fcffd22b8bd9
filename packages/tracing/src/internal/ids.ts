import { randomFillSync } from 'node:crypto';
import type { IdGenerator } from '@opentelemetry/sdk-trace-base';

/** Random bytes drawn per refill: 256 trace ids, or 512 span ids. */
const POOL_BYTES = 4096;
const INVALID_TRACE_ID = '0'.repeat(32);
const INVALID_SPAN_ID = '0'.repeat(16);

/**
 * Trace and span ids cut from a pool of random hex, refilled from the system's cryptographic
 * generator 4 KiB at a time. Every root span needs a fresh trace id and every span a span id, even
 * one its sampler drops: the SDK's default generator draws each with `Math.random` and converts it
 * to hex on its own, while here an id is a slice of one string converted once per refill.
 * An all-zero id (invalid in W3C trace context) is never handed out.
 */
export class PooledIdGenerator implements IdGenerator {
  private readonly bytes = Buffer.alloc(POOL_BYTES);
  private hex = '';
  private at = 0;

  /** `fill` writes random bytes into the buffer it is given (a test's own, to see an all-zero pool skipped). */
  constructor(private readonly fill: (bytes: Buffer) => Buffer = randomFillSync) {}

  generateTraceId(): string {
    return this.take(32, INVALID_TRACE_ID);
  }

  generateSpanId(): string {
    return this.take(16, INVALID_SPAN_ID);
  }

  private take(length: number, invalid: string): string {
    for (;;) {
      if (this.at + length > this.hex.length) {
        this.hex = this.fill(this.bytes).toString('hex');
        this.at = 0;
      }
      const id = this.hex.slice(this.at, (this.at += length));
      if (id !== invalid) return id;
    }
  }
}
