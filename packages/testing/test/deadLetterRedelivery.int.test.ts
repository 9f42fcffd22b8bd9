import { Type } from '@sinclair/typebox';
import { createApp, defineEvent, silentLogger, type App } from '@herald/core';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../src/conformance/suiteTests.js';
import { memoryBroker, memoryStores, type MemoryStores, type MemoryTx } from '../src/index.js';

const Step = defineEvent({
  type: 'Step',
  topic: 'steps',
  key: (d) => d.key,
  schema: Type.Object({ key: Type.String(), seq: Type.Integer(), fail: Type.Boolean() }, { additionalProperties: false }),
});

const apps: App<MemoryTx>[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close({ deadlineMs: 1000 })));
});

/** An app of group `worker` whose handler fails for good on `fail` events and counts the others it handles. */
function workerApp(options: { broker: ReturnType<typeof memoryBroker>; stores: MemoryStores; handled: number[] }): App<MemoryTx> {
  const app = createApp<MemoryTx>({
    // the engine outlives each app: the second one finds the first one's records and letters
    broker: { ...options.broker, close: async () => {} },
    stores: { ...options.stores, close: async () => {} },
    logger: silentLogger,
    events: [Step],
    relay: { idleMs: 2 },
    handlerDefaults: { retry: { maxAttempts: 1 }, deadLetter: 'skip' },
  });
  app.on(Step, { group: 'worker' }, async (event) => {
    if (event.data.fail) throw new Error(`step ${event.data.seq} cannot be done`);
    options.handled.push(event.data.seq);
  });
  apps.push(app);
  return app;
}

describe('a record dead-lettered, then delivered again before its offset was committed', () => {
  // the commit is lost as a crash, a rebalance or a replay loses it: here the group is moved back before the record
  it('keeps one open letter for the record (policy skip), so a redrive runs it once', async () => {
    const broker = memoryBroker({ partitions: 1 });
    const stores = memoryStores();
    const handled: number[] = [];
    const first = workerApp({ broker, stores, handled });
    await first.start();
    await first.publish(Step, { key: 'k', seq: 1, fail: true });
    await waitFor('the letter', async () => (await first.deadLetters({ group: 'worker' })).length === 1, 10_000);
    await first.close({ deadlineMs: 1000 });
    await broker.resetOffsets({ group: 'worker', topic: 'steps', to: 'earliest' });

    const again = workerApp({ broker, stores, handled });
    await again.start();
    // one key, one partition: the event after the failing one is handled once that one is settled again
    await again.publish(Step, { key: 'k', seq: 2, fail: false });
    await waitFor('the second pass', () => handled.includes(2), 10_000);

    const letters = await again.deadLetters({ group: 'worker' });
    expect(letters.map((l) => [l.offset, l.status]), 'one letter for the record').toEqual([[0, 'dead']]);
    expect(await again.redrive({ group: 'worker' }), 'the redrive fails it once').toMatchObject({ redriven: 0, failed: 1 });
  });
});
