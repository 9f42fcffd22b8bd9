import { createManualClock, jsonLogger, MAX_TIMER_MS, type Broker, type ManualClock, type OutboxBacklog, type TopicBacklog } from '@herald/core';
import { describe, expect, it } from 'vitest';
import { createMetrics, sumSamples, type HeraldMetrics } from '../src/index.js';
import { eventually, testApp } from './support/app.js';
import { scrape } from './support/running.js';

/** Metrics on the manual `clock` whose only read-side source is `outbox` (lag from facts, no dead letter browser nor saga census), logging into `lines`. */
function outboxOnly(clock: ManualClock, outbox: OutboxBacklog, options: { pollIntervalMs: number; readTimeoutMs: number }) {
  const fixture = testApp({ clock, relay: false });
  const lines: { msg: string; error?: unknown }[] = [];
  const logger = jsonLogger({ level: 'debug', write: (line) => lines.push(JSON.parse(line) as { msg: string }) });
  const app = { ...fixture.app, logger, broker: {} as Broker, stores: { ...fixture.stores, outbox, deadLetters: {} as typeof fixture.stores.deadLetters, sagas: undefined } };
  return { metrics: createMetrics({ app, ...options }), lines };
}

/** Moves `clock` on by `ms` in steps of `stepMs`, letting everything woken run (up to its next wait on the clock) after each step. */
async function pass(clock: ManualClock, ms: number, stepMs = 10): Promise<void> {
  for (let moved = 0; moved < ms; moved += stepMs) {
    await clock.advance(stepMs);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

const outboxErrors = async (metrics: HeraldMetrics) => sumSamples(await scrape(metrics), 'herald_metrics_read_errors_total', { source: 'outbox' });
/** Closes `metrics` on the manual clock (its close deadline is a sleep on it). */
async function closed(clock: ManualClock, metrics: HeraldMetrics): Promise<void> {
  const closing = metrics.close({ deadlineMs: 0 });
  await clock.advance(0);
  await closing;
}

/** What a logged error says, its causes included. */
const said = (line: { error?: unknown }) => JSON.stringify(line.error ?? null);

describe('a read of the read side that never ends', () => {
  it('fails at its deadline without holding up readiness or the other reads, and is not started again while it hangs', async () => {
    const clock = createManualClock(0);
    const fixture = testApp({ clock, relay: false });
    // the outbox table is locked by a migration nobody finishes, or the database is cut off
    // without a reset: the backlog query never answers
    let outboxReads = 0;
    const outbox = { backlog: () => (outboxReads++, new Promise<never>(() => {})) };
    // the dead letters answer at once (the memory stores answer on the manual clock)
    let deadLetterReads = 0;
    const deadLetters = { ...fixture.stores.deadLetters, page: async () => ({ letters: [] }), count: async () => 0, discard: async () => 0, groups: async () => (deadLetterReads++, []) };
    // lag comes from facts: the broker is not inspected
    const app = { ...fixture.app, broker: {} as Broker, stores: { ...fixture.stores, outbox, deadLetters } };
    const metrics = createMetrics({ app, pollIntervalMs: 1_000, readTimeoutMs: 5_000 });
    let ready = false;
    await metrics.start(new AbortController().signal);
    void metrics.ready?.().then(() => (ready = true));
    await eventually(() => deadLetterReads === 2, 'the first read of the dead letters (dead and parked)');
    // only the outbox read's deadline is left: the dead letters' read is over
    await eventually(() => clock.pending() === 1, 'the dead letters read');

    // at the deadline the read counts as failed, and the app's readiness does not wait on it
    await clock.advance(5_000);
    await eventually(() => ready, 'ready() after the first read, its hung source failed', 2_000);
    expect(sumSamples(await scrape(metrics), 'herald_metrics_read_errors_total', { source: 'outbox' })).toBe(1);

    // the next reads come at the interval: the dead letters are read again, the outbox waits on
    // the read still running (not a second query on a pool of a few connections) and fails again
    await eventually(() => clock.pending() >= 1, 'the metrics waiting for their next read');
    await clock.advance(1_000);
    await eventually(() => deadLetterReads === 4, 'the second read of the dead letters', 2_000);
    await eventually(() => clock.pending() === 1, 'the second read of the dead letters over');
    await clock.advance(5_000);
    await eventually(async () => sumSamples(await scrape(metrics), 'herald_metrics_read_errors_total', { source: 'outbox' }) === 2, 'the second failure counted', 2_000);
    expect(outboxReads).toBe(1);
    // closed while it waits on the hung read again: no deadline is left behind
    await eventually(() => clock.pending() >= 1, 'the metrics waiting for their next read');
    await clock.advance(1_000);
    await eventually(() => deadLetterReads === 6, 'the third read');
    const closed = metrics.close({ deadlineMs: 0 });
    await clock.advance(0);
    await closed;
    expect(clock.pending()).toBe(0);
  });

  it('takes the answer of a read that ends after its deadline while the next poll waits for it, without starting another', async () => {
    const clock = createManualClock(0);
    let release: (() => void) | undefined;
    let outboxReads = 0;
    const outbox = {
      backlog: async () => {
        outboxReads++;
        // the first read waits for a lock; the lock goes at last, and it answers
        if (outboxReads === 1) await new Promise<void>((resolve) => (release = resolve));
        return [{ topic: 'orders', pending: 3, oldestCreatedAt: 0 }];
      },
    };
    const { metrics } = outboxOnly(clock, outbox, { pollIntervalMs: 1_000, readTimeoutMs: 5_000 });
    await metrics.start(new AbortController().signal);
    let ready = false;
    void metrics.ready?.().then(() => (ready = true));
    await eventually(() => release !== undefined, 'the first read of the outbox waiting');
    await pass(clock, 5_000);
    await eventually(() => ready, 'ready() after the first read, its slow source failed', 2_000);
    expect(sumSamples(await scrape(metrics), 'herald_outbox_pending', { topic: 'orders' })).toBe(0);
    // the next poll (at 6 s) waits for the same read; the lock goes while it waits
    await pass(clock, 1_000);
    release!();
    await pass(clock, 10);
    expect(sumSamples(await scrape(metrics), 'herald_outbox_pending', { topic: 'orders' })).toBe(3);
    expect(outboxReads).toBe(1);
    expect(await outboxErrors(metrics)).toBe(1);
    await metrics.close({ deadlineMs: 0 });
  });

  it('refuses a readTimeoutMs that is not a positive number a timer can wait', () => {
    const { app } = testApp({ relay: false });
    for (const readTimeoutMs of [0, -1, Number.NaN, Infinity, MAX_TIMER_MS + 1]) {
      expect(() => createMetrics({ app, readTimeoutMs })).toThrow(expect.objectContaining({ code: 'invalid-options', message: expect.stringContaining('readTimeoutMs') }));
    }
  });
});

describe('a read that fails only after its deadline', () => {
  // 300: the read fails before the next poll (its error is known only as the cause of the next
  // timeout); 350: while the next poll waits for it (that poll fails with it, the next one times out)
  it.each([300, 350])('gives its error (%i ms after it started) as the cause of the next timeouts, and logs the failure when it starts and when its cause changes, not at every poll', async (failAfterMs) => {
    const clock = createManualClock(0);
    let reads = 0;
    let running = 0;
    let mostRunning = 0;
    // a broker blackholed: the client gives up after its connection timeouts and retries, a little
    // after the read's deadline (Kafka's ~30 s against the default readTimeoutMs of 30 s)
    const outbox = {
      backlog: async (): Promise<never> => {
        reads++;
        mostRunning = Math.max(mostRunning, ++running);
        try {
          await clock.sleep(failAfterMs);
          throw Object.assign(new Error('connect ETIMEDOUT 10.0.0.7:5432'), { code: 'ETIMEDOUT' });
        } finally {
          running--;
        }
      },
    };
    const { metrics, lines } = outboxOnly(clock, outbox, { pollIntervalMs: 100, readTimeoutMs: 200 });
    await metrics.start(new AbortController().signal);
    await pass(clock, 3_000);

    // every poll counts one failure (the last read may not be over), and a read is never started
    // while another runs
    expect(reads).toBeGreaterThanOrEqual(7);
    expect(await outboxErrors(metrics)).toBeGreaterThanOrEqual(reads - 1);
    expect(mostRunning).toBe(1);
    // the first failure is the deadline (nothing else is known yet); the driver's error is logged
    // once it is known, as the cause of the timeouts, and not again while it stays the same
    const warned = lines.filter((l) => l.msg.startsWith('metrics: reading the read side'));
    expect(warned.map((l) => l.msg)).toEqual(['metrics: reading the read side failed; its gauges keep their last values', 'metrics: reading the read side still fails, with another error']);
    expect(said(warned[0]!)).toContain('took longer than 200 ms');
    expect(said(warned[1]!)).toContain('connect ETIMEDOUT 10.0.0.7:5432');
    await closed(clock, metrics);
  });

  it('logs a failing source again when its error changes, once per change', async () => {
    const clock = createManualClock(0);
    let error = new Error('password authentication failed for user "metrics"');
    const { metrics, lines } = outboxOnly(clock, { backlog: async () => Promise.reject(error) }, { pollIntervalMs: 0, readTimeoutMs: 5_000 });
    await metrics.poll();
    await metrics.poll();
    error = new Error('relation "herald_outbox" does not exist');
    await metrics.poll();
    await metrics.poll();
    expect(await outboxErrors(metrics)).toBe(4);
    const warned = lines.filter((l) => l.msg.startsWith('metrics: reading the read side'));
    expect(warned.map((l) => said(l))).toEqual([expect.stringContaining('password authentication failed'), expect.stringContaining('does not exist')]);
    await closed(clock, metrics);
  });
});

describe('a read failing with what is no Error', () => {
  it('counts and logs it, whatever was thrown (an object without a prototype, which String() cannot print)', async () => {
    const clock = createManualClock(0);
    const odd = Object.assign(Object.create(null) as object, { code: 'E42' });
    const { metrics, lines } = outboxOnly(clock, { backlog: async () => Promise.reject(odd) }, { pollIntervalMs: 0, readTimeoutMs: 5_000 });
    await metrics.poll();
    await metrics.poll();
    expect(await outboxErrors(metrics)).toBe(2);
    expect(lines.filter((l) => l.msg.startsWith('metrics: reading the read side'))).toHaveLength(1);
    await closed(clock, metrics);
  });

  it('tells two such failures apart: a source failing another way is logged again', async () => {
    const clock = createManualClock(0);
    const bare = (code: string) => Object.assign(Object.create(null) as object, { code });
    let failure = bare('E42');
    const { metrics, lines } = outboxOnly(clock, { backlog: async () => Promise.reject(failure) }, { pollIntervalMs: 0, readTimeoutMs: 5_000 });
    await metrics.poll();
    await metrics.poll();
    failure = bare('E43');
    await metrics.poll();
    expect(lines.filter((l) => l.msg.startsWith('metrics: reading the read side'))).toHaveLength(2);
    await closed(clock, metrics);
  });
});

describe('a read stuck for good', () => {
  it('is given up on after 3 deadlines and a new read started, with at most one read given up on per source still running', async () => {
    const clock = createManualClock(0);
    // half-open connections without keepalive: a read ends only when the test says so
    const reads: { resolve: (topics: readonly TopicBacklog[]) => void; reject: (error: Error) => void }[] = [];
    const outbox = { backlog: () => new Promise<readonly TopicBacklog[]>((resolve, reject) => reads.push({ resolve, reject })) };
    const { metrics, lines } = outboxOnly(clock, outbox, { pollIntervalMs: 1_000, readTimeoutMs: 5_000 });
    await metrics.start(new AbortController().signal);
    // polls at 0, 6 and 12 s wait for the first read; at its third deadline (17 s) it is given up on
    await pass(clock, 17_000, 100);
    expect(reads).toHaveLength(1);
    expect(await outboxErrors(metrics)).toBe(3);
    // the next poll (18 s) starts a second read, which hangs too: 3 deadlines later (35 s) it
    // cannot be given up on while the first still runs (two connections of the pool held at most)
    await pass(clock, 1_000, 100);
    expect(reads).toHaveLength(2);
    await pass(clock, 25_000, 100);
    expect(reads).toHaveLength(2);
    expect(await outboxErrors(metrics)).toBe(7);
    // the first read ends at last (43 s: the kernel gave up on its connection): the second is
    // given up on at its next deadline (47 s), whose timeout says how the first ended
    reads[0]!.reject(new Error('Connection terminated unexpectedly'));
    await pass(clock, 4_000, 100);
    expect(reads).toHaveLength(2);
    await pass(clock, 1_000, 100);
    expect(reads).toHaveLength(3);
    const warned = lines.filter((l) => l.msg.startsWith('metrics: reading the read side'));
    expect(warned.map((l) => said(l))).toEqual([expect.stringContaining('took longer than 5000 ms'), expect.stringContaining('Connection terminated unexpectedly')]);
    // the third read answers; the second answers after it, with what it read long ago: the
    // gauges keep the newer answer
    reads[2]!.resolve([{ topic: 'orders', pending: 2, oldestCreatedAt: 0 }]);
    await pass(clock, 100);
    reads[1]!.resolve([{ topic: 'orders', pending: 7, oldestCreatedAt: 0 }]);
    await pass(clock, 1_000, 100);
    expect(sumSamples(await scrape(metrics), 'herald_outbox_pending', { topic: 'orders' })).toBe(2);
    expect(lines.filter((l) => l.msg === 'metrics: reading the read side works again')).toHaveLength(1);
    await closed(clock, metrics);
    expect(clock.pending()).toBe(0);
  });
});
