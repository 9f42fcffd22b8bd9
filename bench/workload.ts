// The benchmark's workload, the same for every row: events of ~200 bytes over 1,000 keys; the
// consumer's effect is a dedupe insert plus a per-key counter update in one transaction, and an
// event counts as applied once that transaction committed. Two producer shapes: calls of 1,000
// events (a batch import) and calls of 1 event from 32 concurrent callers (request handlers).
import type { CpuSeconds } from './cpu.js';

export const KEYS = 1000;
export const PAYLOAD = 'x'.repeat(150); // with key, seq and sentAt the data is ~200 bytes

/** Milliseconds with sub-millisecond precision on a clock shared by producer and consumer in this process. */
export const nowMs = (): number => performance.timeOrigin + performance.now();

/** One event of the workload, as the producer hands it to a row. */
export interface BenchItem {
  readonly key: string;
  /** The key's index, 0 to KEYS - 1 (rows spread topics by it). */
  readonly keyIndex: number;
  readonly seq: number;
  /** When the call sending it started: latency runs from here to the commit of its effect. */
  readonly sentAt: number;
  readonly payload: string;
}

export function benchItem(seq: number, sentAt: number): BenchItem {
  const keyIndex = seq % KEYS;
  return { key: `k${keyIndex}`, keyIndex, seq, sentAt, payload: PAYLOAD };
}

export type Shape = 'batch' | 'request';

/** How each shape sends: events per call, and callers in flight when sending flat out. */
export const SHAPES: Readonly<Record<Shape, { readonly callSize: number; readonly callers: number }>> = {
  batch: { callSize: 1000, callers: 4 },
  request: { callSize: 1, callers: 32 },
};

/** Counts applied events and keeps their latencies; resolves waiters when a count is reached. */
/**
 * The callers count given as `source` (`--callers`, `HERALD_BENCH_CALLERS`) for {@link RunOptions.callers}:
 * undefined when not given; a clear error when not a positive integer.
 */
export function callersOption(value: string | undefined, source: string): number | undefined {
  if (value === undefined) return undefined;
  const callers = Number(value);
  if (!(Number.isInteger(callers) && callers > 0)) throw new Error(`${source} must be a positive integer, got ${value}`);
  return callers;
}

export class Applied {
  count = 0;
  readonly latenciesMs: number[] = [];
  private target = Infinity;
  private reached: (() => void) | undefined;

  /** One event's effect committed; `sentAt` from its item. */
  record(sentAt: number, now = nowMs()): void {
    this.count++;
    this.latenciesMs.push(now - sentAt);
    if (this.count >= this.target) this.reached?.();
  }

  /** Forgets what was applied so far (a warm-up's events): counting and latencies start again. */
  restart(): void {
    this.count = 0;
    this.latenciesMs.length = 0;
  }

  /** Resolves once `count` events were applied. */
  until(count: number): Promise<void> {
    if (this.count >= count) return Promise.resolve();
    this.target = count;
    return new Promise((resolve) => (this.reached = resolve));
  }
}

/** One pipeline under measurement, running: a producer side, a consumer applying the effect, and its teardown. */
export interface BenchRow {
  /** Sends these events in one call; resolves once the call is acknowledged (durable). */
  send(items: readonly BenchItem[]): Promise<void>;
  readonly applied: Applied;
  /** Stops everything it started (apps, connections, servers, files). */
  close(): Promise<void>;
  /** CPU used so far by this process and the servers the row started (bench/profile.ts). */
  cpuSeconds?(): CpuSeconds;
}

/** Starts a fresh, empty row whose consumer is ready (owns its partitions). */
export type RowFactory = () => Promise<BenchRow>;

export interface RunOptions {
  readonly shape: Shape;
  readonly events: number;
  /** Open loop at this rate; flat out (closed loop, the shape's callers) when absent. */
  readonly ratePerSec?: number;
  /**
   * Callers in flight when flat out, instead of the shape's: more of them than the shape's 32
   * one-event callers measure what the row sustains when the CPU is the limit, not when each
   * caller's wait for its commit is.
   */
  readonly callers?: number;
  /**
   * Events sent first, the same way, and not counted: the measured run then starts on a row in
   * its steady state (caches filled, code compiled, the relay thread's included).
   */
  readonly warmupEvents?: number;
  /** Called once the warm-up's events were applied, as the measured run starts (a profiler's counters). */
  readonly measuring?: () => void | Promise<void>;
}

export interface RunResult {
  readonly events: number;
  readonly elapsedMs: number;
  readonly latenciesMs: readonly number[];
}

/** Sends `events` in the shape's calls and waits until every one is applied. */
export async function runShape(row: BenchRow, options: RunOptions): Promise<RunResult> {
  const { callSize } = SHAPES[options.shape];
  const callers = options.callers ?? SHAPES[options.shape].callers;
  // event numbers (and so ids) go on from the warm-up's: a row deduplicating by id applies every event
  const warmup = options.warmupEvents ?? 0;
  const send = async (first: number, events: number) => {
    const call = (from: number, count: number) => {
      const sentAt = nowMs();
      return row.send(Array.from({ length: count }, (_, i) => benchItem(first + from + i, sentAt)));
    };
    if (options.ratePerSec === undefined) await sendFlat(events, callSize, callers, call);
    else await sendAtRate(events, callSize, options.ratePerSec, call);
  };
  if (warmup > 0) {
    const warm = row.applied.until(warmup);
    await send(0, warmup);
    await warm;
    row.applied.restart();
  }
  await options.measuring?.();
  const all = row.applied.until(options.events);
  const started = nowMs();
  await send(warmup, options.events);
  await all;
  return { events: row.applied.count, elapsedMs: nowMs() - started, latenciesMs: row.applied.latenciesMs };
}

/** Closed loop: `callers` each send the next call as soon as the previous one was acknowledged. */
async function sendFlat(total: number, callSize: number, callers: number, call: (from: number, count: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (next < total) {
        const from = next;
        const count = Math.min(callSize, total - from);
        next += count;
        await call(from, count);
      }
    }),
  );
}

/** Open loop: a call whenever `callSize` events are due at `ratePerSec`; a late system never slows the sender. */
async function sendAtRate(total: number, callSize: number, ratePerSec: number, call: (from: number, count: number) => Promise<void>): Promise<void> {
  const start = nowMs();
  const inFlight: Promise<void>[] = [];
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((nowMs() - start) * ratePerSec) / 1000) + 1);
    while (due - sent >= callSize || (due === total && sent < total)) {
      const count = Math.min(callSize, total - sent);
      inFlight.push(call(sent, count));
      sent += count;
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await Promise.all(inFlight);
}
