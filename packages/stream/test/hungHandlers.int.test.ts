import { afterEach, describe, expect, it } from 'vitest';
import { createApp, createManualClock, silentLogger, type App, type ManualClock } from '@herald/core';
import { eventually, memoryBroker, memoryStores, type MemoryStores, type MemoryTx } from '@herald/testing';
import { TimeWindows, createTopology, type StreamRecord, type WindowResult } from '../src/index.js';
import { Click, LateClicks } from './support.js';

// A forEach that hangs, ignoring its signal (a downstream call without a deadline), on the
// in-memory engine and a manual clock: the pipeline rolls its transaction back at the handler
// timeout and the code runs on. What must still hold for the topology around it.

const TIMEOUT_MS = 500;
const IDLE_MS = 1_000;
const INTERVAL_MS = 100;
const SIZE_MS = 1_000;

const apps: App<MemoryTx>[] = [];
/** The hung calls' releases: a test ends by releasing them, so its teardown never waits for one. */
const hung: (() => void)[] = [];
const hang = () => new Promise<void>((resolve) => hung.push(resolve));
const release = () => hung.splice(0).forEach((resume) => resume());
afterEach(async () => {
  release();
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

interface Setup {
  /** Called for each click read, before it is counted. */
  readonly onClick?: (record: StreamRecord<{ userId: string; seq: number }>) => Promise<void>;
  /** Called for each window result (`user@start=count`), before it is recorded. */
  readonly onResult?: (result: string, signal: AbortSignal) => Promise<void>;
  readonly timeoutMs?: number;
  /** The app's `handlerDefaults.timeoutMs`, and no timeout of the topology's own. */
  readonly appTimeoutMs?: number;
}

/** An app counting clicks per user and 1 s window (final results), one partition, on a manual clock. */
async function started(setup: Setup) {
  const clock = createManualClock(0);
  const stores = memoryStores();
  const handlerDefaults = setup.appTimeoutMs === undefined ? {} : { handlerDefaults: { timeoutMs: setup.appTimeoutMs } };
  const app = createApp<MemoryTx>({ broker: memoryBroker({ partitions: 1 }), stores, clock, logger: silentLogger, relay: false, ...handlerDefaults });
  apps.push(app);
  const handler = setup.appTimeoutMs === undefined ? { handler: { timeoutMs: setup.timeoutMs ?? TIMEOUT_MS } } : {};
  const topology = createTopology<MemoryTx>({ name: 'clicks', idleTimeoutMs: IDLE_MS, punctuateIntervalMs: INTERVAL_MS, ...handler });
  const results: string[] = [];
  const clicks = topology.from(Click);
  if (setup.onClick) clicks.forEach(setup.onClick);
  clicks
    .groupByKey()
    .windowedBy(TimeWindows.ofSizeWithNoGrace(SIZE_MS))
    .count('per-user', { late: { to: LateClicks } })
    .forEach(async (r: StreamRecord<WindowResult<number>>, ctx) => {
      const result = `${r.key}@${r.value.start}=${r.value.value}`;
      await setup.onResult?.(result, ctx.signal);
      results.push(result);
    });
  topology.install(app);
  let handled = 0;
  app.instrumentation.on((fact) => {
    if (fact.kind === 'handled' && fact.outcome === 'applied') handled++;
  });
  await app.start();
  await app.ready();
  return { app, clock, stores, results, handled: () => handled };
}

/** Moves the manual clock on in steps, letting what each step wakes run, until `probe` answers (or 10 s of real time pass). */
function advanceUntil<T>(clock: ManualClock, probe: () => T | undefined | Promise<T | undefined>, what: string): Promise<T> {
  return eventually(
    async () => {
      const value = await probe();
      if (value === undefined) await clock.advance(INTERVAL_MS);
      return value;
    },
    10_000,
    what,
    5,
  );
}

const windowsOf = async (stores: MemoryStores) => (await stores.windows.read('clicks.per-user')).windows.map((w) => `${w.key}@${w.start}`);

describe('a forEach that hangs', () => {
  it('in a batch leaves its partition idle once the batch is rolled back, so its windows still close on idle', async () => {
    let calls = 0;
    let resumed = false;
    const { app, clock, results, handled } = await started({
      onClick: async () => {
        if (++calls > 1) return;
        await hang();
        resumed = true;
      },
    });
    await app.publishDirect(Click, { userId: 'u-1', seq: 1 }, { occurredAt: new Date(1_000) });
    await eventually(() => (calls === 1 ? true : undefined), 10_000, 'the forEach to hang', 5);

    // at the deadline the batch rolls back; the click goes alone and is counted (the forEach runs on)
    await advanceUntil(clock, () => (handled() === 1 ? true : undefined), 'the click to be handled alone');
    expect(calls).toBe(2);
    // nothing arrives any more: only the partition going idle closes the window
    await advanceUntil(clock, () => (results.length > 0 ? true : undefined), 'the window to close on idle');
    expect(results).toEqual(['u-1@1000=1']);

    // the hung call returning at last (its batch long over) must not end the partition's activity twice
    release();
    await eventually(() => (resumed ? true : undefined), 10_000, 'the hung forEach to return', 5);
    await app.publishDirect(Click, { userId: 'u-1', seq: 2 }, { occurredAt: new Date(5_000) });
    await eventually(() => (handled() === 2 ? true : undefined), 10_000, 'the second click to be handled', 5);
    await advanceUntil(clock, () => (results.length > 1 ? true : undefined), 'the second window to close on idle');
    expect(results).toEqual(['u-1@1000=1', 'u-1@5000=1']);
  });

  it('on a window result a punctuation closed is rolled back at the timeout: the windows close at a later tick, and the partition’s next batch is not dead-lettered', async () => {
    let calls = 0;
    let hungSignal: AbortSignal | undefined;
    const { app, clock, stores, results, handled } = await started({
      onResult: (_result, signal) => {
        if (++calls > 1) return Promise.resolve();
        hungSignal = signal;
        return hang();
      },
    });
    await app.publishDirect(Click, { userId: 'u-1', seq: 1 }, { occurredAt: new Date(1_000) });
    await eventually(() => (handled() === 1 ? true : undefined), 10_000, 'the first click to be handled', 5);
    await advanceUntil(clock, () => (calls === 1 ? true : undefined), 'the punctuation’s forEach to hang');

    // a batch of the partition comes while the punctuation holds its window lock
    await clock.advance(2 * INTERVAL_MS);
    await app.publishDirect(Click, { userId: 'u-1', seq: 2 }, { occurredAt: new Date(5_000) });
    await advanceUntil(clock, () => (results.length === 2 ? true : undefined), 'both windows to close');

    expect(results).toEqual(['u-1@1000=1', 'u-1@5000=1']);
    expect(await app.deadLetters()).toEqual([]);
    expect(handled()).toBe(2);
    expect(await windowsOf(stores)).toEqual([]);
    // the hung forEach was told
    expect(hungSignal?.reason).toMatchObject({ code: 'timeout' });
  });

  it('on a window result a punctuation closed is rolled back at the app’s handler timeout when the topology sets none', async () => {
    let calls = 0;
    let hungSignal: AbortSignal | undefined;
    const { app, clock } = await started({
      appTimeoutMs: TIMEOUT_MS,
      onResult: (_result, signal) => {
        if (++calls > 1) return Promise.resolve();
        hungSignal = signal;
        return hang();
      },
    });
    await app.publishDirect(Click, { userId: 'u-1', seq: 1 }, { occurredAt: new Date(1_000) });
    await advanceUntil(clock, () => (calls === 1 ? true : undefined), 'the punctuation’s forEach to hang');
    const from = clock.now();
    await advanceUntil(clock, () => (hungSignal?.aborted ? true : undefined), 'the punctuation to time out');
    // the app's 500 ms, not Herald's default of 30 s
    expect(clock.now() - from).toBeLessThanOrEqual(TIMEOUT_MS + INTERVAL_MS);
    expect(hungSignal?.reason).toMatchObject({ code: 'timeout' });
  });

  it('on a window result a punctuation closed does not hold the app’s close past its deadline', async () => {
    let calls = 0;
    // a timeout far beyond close's deadline: close, not the punctuation's deadline, must end the wait
    const { app, clock, stores } = await started({ timeoutMs: 600_000, onResult: () => (++calls, hang()) });
    await app.publishDirect(Click, { userId: 'u-1', seq: 1 }, { occurredAt: new Date(1_000) });
    await advanceUntil(clock, () => (calls === 1 ? true : undefined), 'the punctuation’s forEach to hang');

    const from = clock.now();
    let closed = false;
    void app.close({ deadlineMs: 1_000 }).then(() => (closed = true));
    await advanceUntil(clock, () => (closed ? true : undefined), 'the app to close');
    expect(clock.now() - from).toBeLessThanOrEqual(1_000 + INTERVAL_MS);
    // the punctuation was abandoned: its window was not deleted, nor its result published
    expect(await windowsOf(stores)).toEqual(['u-1@1000']);
  });
});
