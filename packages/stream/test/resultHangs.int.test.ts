import { afterEach, describe, expect, it } from 'vitest';
import { createApp, createManualClock, decodeEnvelope, silentLogger, type App, type ManualClock } from '@herald/core';
import { eventually, memoryBroker, memoryStores, type MemoryTx } from '@herald/testing';
import { TimeWindows, createTopology, type StreamRecord, type WindowResult } from '../src/index.js';
import { Click, LateClicks } from './support.js';

// A window's result whose downstream hangs for good (a forEach waiting on a call without a
// deadline, ignoring its signal) is bounded as a handler is: each attempt that reaches its deadline
// while emitting it is a retriable timeout, and once the attempts are used up the result is
// dead-lettered (reason `timeout`) and passed over, so its partition goes on. On the in-memory
// engine and a manual clock, one partition, 2 attempts.

const TIMEOUT_MS = 500;
const INTERVAL_MS = 100;
const SIZE_MS = 1_000;
const MAX_ATTEMPTS = 2;

const apps: App<MemoryTx>[] = [];
/** The hung calls' releases: a test ends by releasing them, so its teardown never waits for one. */
const hung: (() => void)[] = [];
afterEach(async () => {
  hung.splice(0).forEach((resume) => resume());
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

/** Counts clicks per user and 1 s window (final results); user `bad`'s results hang in the forEach. */
async function started(idleTimeoutMs: number | false) {
  const clock = createManualClock(0);
  const app = createApp<MemoryTx>({ broker: memoryBroker({ partitions: 1 }), stores: memoryStores(), clock, logger: silentLogger, relay: false });
  apps.push(app);
  const retry = { maxAttempts: MAX_ATTEMPTS, initialDelayMs: 1, maxDelayMs: 1, jitter: 0 };
  const topology = createTopology<MemoryTx>({ name: 'clicks', idleTimeoutMs, punctuateIntervalMs: INTERVAL_MS, handler: { timeoutMs: TIMEOUT_MS, retry } });
  const results: string[] = [];
  let hangs = 0;
  topology
    .from(Click)
    .groupByKey()
    .windowedBy(TimeWindows.ofSizeWithNoGrace(SIZE_MS))
    .count('per-user', { late: { to: LateClicks } })
    .forEach(async (r: StreamRecord<WindowResult<number>>) => {
      if (r.key === 'bad') {
        hangs++;
        await new Promise<void>((resolve) => hung.push(resolve));
      }
      results.push(`${r.key}@${r.value.start}=${r.value.value}`);
    });
  topology.install(app);
  let applied = 0;
  let punctuationFailures = 0;
  app.instrumentation.on((fact) => {
    if (fact.kind === 'handled' && fact.outcome === 'applied') applied++;
    if (fact.kind === 'punctuation-failed') punctuationFailures++;
  });
  await app.start();
  await app.ready();
  return { app, clock, results, hangs: () => hangs, applied: () => applied, punctuationFailures: () => punctuationFailures };
}

/** Moves the manual clock on in steps, letting what each step wakes run, until `probe` answers. */
const advanceUntil = <T>(clock: ManualClock, probe: () => T | undefined, what: string): Promise<T> =>
  eventually(
    async () => {
      const value = probe();
      if (value === undefined) await clock.advance(INTERVAL_MS);
      return value;
    },
    10_000,
    what,
    5,
  );

/** The group's one dead letter: bad's result of window [0, 1000), dead-lettered for a timeout after every attempt. */
async function hungLetter(app: App<MemoryTx>) {
  const letters = await app.stores.deadLetters.list({ group: 'clicks' });
  expect(letters.map((l) => [l.key, l.eventType, l.reason, l.attempts, l.offset])).toEqual([['bad', 'herald.stream.WindowResult.clicks', 'timeout', MAX_ATTEMPTS, -1]]);
  expect(decodeEnvelope(letters[0]!.envelope, letters[0]!.headers).data).toMatchObject({ aggregation: 'per-user', key: 'bad', start: 0, kind: 'final', value: 1 });
}

describe("a window's result whose downstream hangs for good", () => {
  it('closed by a punctuation: times out each punctuation until its attempts are used up, then is dead-lettered and the others close', async () => {
    const t = await started(1_000);
    await t.app.publishDirect(Click, { userId: 'bad', seq: 1 }, { occurredAt: new Date(100) });
    await t.app.publishDirect(Click, { userId: 'good', seq: 2 }, { occurredAt: new Date(200) });
    await eventually(() => (t.applied() === 2 ? true : undefined), 10_000, 'the clicks to be handled', 5);
    // bad's window closes (key order) before good's: good's result waits behind it
    await advanceUntil(t.clock, () => (t.results.length > 0 ? true : undefined), 'good’s window to close');
    expect(t.results).toEqual(['good@0=1']);
    expect(t.hangs()).toBe(MAX_ATTEMPTS);
    expect(t.punctuationFailures()).toBe(MAX_ATTEMPTS);
    await hungLetter(t.app);
  });

  it('closed by a record: the batch and the record alone time out until the attempts are used up, then the result is dead-lettered, not the record', async () => {
    const t = await started(false);
    await t.app.publishDirect(Click, { userId: 'bad', seq: 1 }, { occurredAt: new Date(100) });
    // closes bad's window [0, 1000), then good's [1000, 2000)
    await t.app.publishDirect(Click, { userId: 'good', seq: 2 }, { occurredAt: new Date(1_500) });
    await t.app.publishDirect(Click, { userId: 'good', seq: 3 }, { occurredAt: new Date(2_600) });
    await advanceUntil(t.clock, () => (t.results.length > 0 ? true : undefined), 'good’s first window to close');
    expect(t.results).toEqual(['good@1000=1']);
    expect(t.applied()).toBe(3);
    // the whole batch, then the record alone (its first attempt): the second attempt passes over the result
    expect(t.hangs()).toBe(MAX_ATTEMPTS);
    await hungLetter(t.app);
  });
});
