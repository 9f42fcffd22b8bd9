import { getEventListeners } from 'node:events';
import { Type } from '@sinclair/typebox';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createApp, defineEvent, silentLogger, type App } from '@herald/core';
import { memoryBroker, memoryStores, type MemoryTx } from '@herald/testing';

// the consumer lifts Node's listener limit on its own signals: those are the signals this file
// watches for listeners left behind (the limit's warning is off for them)
const consumerSignals = vi.hoisted((): EventTarget[] => []);
vi.mock('node:events', async (original) => {
  const events = await original<{ setMaxListeners: (n?: number, ...targets: EventTarget[]) => void }>();
  const setMaxListeners = (n?: number, ...targets: EventTarget[]) => {
    consumerSignals.push(...targets);
    events.setMaxListeners(n, ...targets);
  };
  return { ...events, setMaxListeners };
});

const Tick = defineEvent({ type: 'Tick', topic: 'ticks', key: (d) => d.key, schema: Type.Object({ key: Type.String() }) });
const PARTITIONS = 16;
const HELD = 11;

const apps: App<MemoryTx>[] = [];
const warnings: Error[] = [];
const onWarning = (warning: Error) => void warnings.push(warning);
afterEach(async () => {
  process.off('warning', onWarning);
  await Promise.all(apps.splice(0).map((app) => app.close({ deadlineMs: 1000 })));
});

/** Holds every call until `HELD` are running at once (or two seconds passed), and remembers the most seen. */
function gate() {
  let running = 0;
  let most = 0;
  const waiting: (() => void)[] = [];
  return {
    get most() {
      return most;
    },
    async pass(): Promise<void> {
      running++;
      most = Math.max(most, running);
      if (running >= HELD) waiting.splice(0).forEach((open) => open());
      else await Promise.race([new Promise<void>((open) => waiting.push(open)), new Promise((resolve) => setTimeout(resolve, 2_000))]);
      running--;
    },
  };
}

async function run(register: (app: App<MemoryTx>, done: () => void) => void): Promise<void> {
  process.on('warning', onWarning);
  const app = createApp<MemoryTx>({ broker: memoryBroker({ partitions: PARTITIONS }), stores: memoryStores(), logger: silentLogger, events: [Tick] });
  apps.push(app);
  let handled = 0;
  register(app, () => handled++);
  // keys spread over the partitions: one delivery (one batch) per partition at once
  await app.publishDirect.many(Tick, Array.from({ length: 64 }, (_, i) => ({ key: `k-${i}` })));
  await app.start();
  const deadline = Date.now() + 10_000;
  while (handled < 64 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  expect(handled).toBe(64);
  // a warning is emitted on the next tick
  await new Promise((resolve) => setImmediate(resolve));
}

describe('a group with many deliveries in flight', () => {
  it('runs more than ten batches at once without Node warning of an abort-listener leak', async () => {
    const held = gate();
    await run((app, done) =>
      app.onBatch(Tick, { group: 'batches' }, async (events) => {
        await held.pass();
        events.forEach(done);
      }),
    );
    expect(held.most).toBeGreaterThan(10);
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning').map((w) => w.message)).toEqual([]);
  });

  it('runs more than ten deliveries watching their signal at once without that warning', async () => {
    const held = gate();
    await run((app, done) =>
      app.on(Tick, { group: 'each' }, async (_, ctx) => {
        ctx.signal.throwIfAborted();
        await held.pass();
        done();
      }),
    );
    expect(held.most).toBeGreaterThan(10);
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning').map((w) => w.message)).toEqual([]);
  });
});

describe('a member whose partitions are revoked again and again', () => {
  it('leaves no listener behind on its signals, however often', async () => {
    const broker = memoryBroker({ partitions: 4 });
    const member = () => {
      const app = createApp<MemoryTx>({ broker: broker.connect(), stores: memoryStores(), logger: silentLogger, events: [Tick], relay: false });
      app.on(Tick, { group: 'g' }, async () => {});
      apps.push(app);
      return app;
    };
    const earlier = consumerSignals.length;
    const first = member();
    await first.start();
    await first.ready();
    const signals = consumerSignals.slice(earlier);
    const listeners = () => signals.map((signal) => getEventListeners(signal, 'abort').length);
    expect(signals.length).toBeGreaterThan(0);
    const before = listeners();
    for (let i = 0; i < 12; i++) {
      // each join takes half of the first member's partitions, each leave gives them back
      const other = member();
      await other.start();
      await other.ready();
      await other.close({ deadlineMs: 1000 });
    }
    expect(listeners()).toEqual(before);
  });
});
