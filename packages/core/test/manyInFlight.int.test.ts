import { Type } from '@sinclair/typebox';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp, defineEvent, silentLogger, type App } from '@herald/core';
import { memoryBroker, memoryStores, type MemoryTx } from '@herald/testing';

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
