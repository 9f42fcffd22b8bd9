import { describe, expect, it } from 'vitest';
import { createApp, createManualClock, silentLogger, type ManualClock, type SqlTx } from '@herald/core';
import { eventually } from '@herald/testing';
import { TimeWindows, createTopology, type LateRecord } from '../src/index.js';
import { Click, flushUser, topics } from './support.js';
import { embeddedEngines } from './embedded.js';

// A record whose handling fails and waits for its retry is not "nothing coming": on the embedded
// engine (real SQLite files) and a manual clock, a retry backoff longer than the idle timeout must
// not let the punctuator close the windows that record belongs to, which would make it late.

const PARTITIONS = 2;
const IDLE_MS = 1_000;
const SIZE_MS = 1_000;
const BACKOFF_MS = 5_000;

const engines = embeddedEngines('herald-retry-idle-');

/** Counts clicks per user and 1 s window (final results, no grace); a click's first `failures` attempts fail (a downstream call, retriable). */
async function started(clock: ManualClock, failing: { seq: number; failures: number }) {
  const engine = engines.open();
  await engine.broker.ensureTopics(topics(PARTITIONS));
  const app = createApp<SqlTx>({ name: 'retry-idle', broker: engine.broker, stores: engine.stores, topics: topics(PARTITIONS), clock, logger: silentLogger, relay: false });
  engines.track(app);
  const retry = { maxAttempts: 3, initialDelayMs: BACKOFF_MS, maxDelayMs: BACKOFF_MS, jitter: 0 };
  const topology = createTopology<SqlTx>({ name: 'clicks', idleTimeoutMs: IDLE_MS, punctuateIntervalMs: 100, handler: { retry } });
  const results: string[] = [];
  const late: LateRecord<unknown>[] = [];
  let calls = 0;
  const clicks = topology.from(Click);
  clicks.forEach(async (r) => {
    if (r.value.seq === failing.seq && ++calls <= failing.failures) throw new Error('downstream unavailable'); // retriable, as any error not marked otherwise
  });
  clicks
    .groupByKey()
    .windowedBy(TimeWindows.ofSizeWithNoGrace(SIZE_MS))
    .count('per-user', { late: { handler: async (record) => void late.push(record) } })
    .forEach(async (r) => void results.push(`${r.key}@${r.value.start}=${r.value.value}`));
  topology.install(app);
  let applied = 0;
  let retried = 0;
  app.instrumentation.on((fact) => {
    if (fact.kind === 'handled' && fact.outcome === 'applied') applied++;
    if (fact.kind === 'retried') retried++;
  });
  await app.start();
  await app.ready();
  return { app, results, late, applied: () => applied, retried: () => retried, calls: () => calls };
}

/** Moves the manual clock on 100 ms at a time, letting what each step wakes run, until `probe` answers. */
const advanceUntil = <T>(clock: ManualClock, probe: () => T | undefined, what: string): Promise<T> =>
  eventually(
    async () => {
      const value = probe();
      if (value === undefined) await clock.advance(100);
      return value;
    },
    20_000,
    what,
    5,
  );

describe('idle punctuation while a record waits for its retry', () => {
  it('leaves the windows of a partition whose record is in a retry backoff open, so the record counts once it succeeds', async () => {
    const clock = createManualClock(0);
    // the retried user's partition comes first: a tick punctuates idle partitions in partition order
    const retrying = flushUser(0, PARTITIONS);
    const quiet = flushUser(1, PARTITIONS);
    const t = await started(clock, { seq: 2, failures: 2 });
    await t.app.publishDirect(Click, { userId: retrying, seq: 1 }, { occurredAt: new Date(1_000) });
    await t.app.publishDirect(Click, { userId: quiet, seq: 1 }, { occurredAt: new Date(1_000) });
    await eventually(() => (t.applied() === 2 ? true : undefined), 20_000, 'the first clicks to be counted', 5);

    // its batch fails, then its first attempt alone: it waits 5 s (of the manual clock) for its retry
    await t.app.publishDirect(Click, { userId: retrying, seq: 2 }, { occurredAt: new Date(1_500) });
    await eventually(() => (t.retried() === 1 ? true : undefined), 20_000, 'the click to wait for its retry', 5);
    expect(t.calls()).toBe(2);

    // the quiet partition goes idle and its window closes; the tick that closed it looked at partition 0 first
    await advanceUntil(clock, () => (t.results.length > 0 ? true : undefined), "the quiet partition's window to close on idle");
    expect(clock.now()).toBeLessThan(BACKOFF_MS);
    expect(t.results).toEqual([`${quiet}@1000=1`]);

    // the retry succeeds: the click is counted in its window, which then closes on idle, whole
    await advanceUntil(clock, () => (t.applied() === 3 ? true : undefined), 'the retried click to be counted');
    await advanceUntil(clock, () => (t.results.length > 1 ? true : undefined), "the retried partition's window to close on idle");
    expect(t.results).toEqual([`${quiet}@1000=1`, `${retrying}@1000=2`]);
    expect(t.late).toEqual([]);
  });

  it('lets the partition go idle again once the record that kept failing is dead-lettered', async () => {
    const clock = createManualClock(0);
    const retrying = flushUser(0, PARTITIONS);
    const t = await started(clock, { seq: 2, failures: Number.POSITIVE_INFINITY });
    await t.app.publishDirect(Click, { userId: retrying, seq: 1 }, { occurredAt: new Date(1_000) });
    await eventually(() => (t.applied() === 1 ? true : undefined), 20_000, 'the first click to be counted', 5);
    await t.app.publishDirect(Click, { userId: retrying, seq: 2 }, { occurredAt: new Date(1_500) });
    await eventually(() => (t.retried() === 1 ? true : undefined), 20_000, 'the click to wait for its retry', 5);

    // two backoffs, then the dead letter; only then does the partition's window close on idle
    await advanceUntil(clock, () => (t.results.length > 0 ? true : undefined), 'the window to close once the click is dead-lettered');
    expect(clock.now()).toBeGreaterThanOrEqual(2 * BACKOFF_MS + IDLE_MS);
    expect(t.retried()).toBe(2);
    expect(t.results).toEqual([`${retrying}@1000=1`]);
    expect((await t.app.stores.deadLetters.list({ group: 'clicks' })).map((letter) => letter.eventType)).toEqual([Click.type]);
  });
});
