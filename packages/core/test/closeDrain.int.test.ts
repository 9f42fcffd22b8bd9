import { afterEach, describe, expect, it } from 'vitest';
import { apps, closeApps, newApp, Step } from './appFixture.js';
import { eventually } from './support.js';
import { partitionForKey, type App } from '@herald/core';
import type { MemoryTx } from '@herald/testing';

afterEach(closeApps);

/** Registers a handler in group `worker` that takes 100 ms, then writes its effect; counts the calls that started and those that finished. */
function slowHandler(app: App<MemoryTx>): { readonly started: number; readonly finished: number } {
  const calls = { started: 0, finished: 0 };
  app.on(Step, { group: 'worker' }, async (event, ctx) => {
    calls.started++;
    await new Promise((r) => setTimeout(r, 100));
    ctx.tx.set(`applied/${event.id}`, true);
    calls.finished++;
  });
  return calls;
}

describe('close() of an app on the in-memory engine', () => {
  it('close() lets running handlers finish and commits them', async () => {
    const { app, broker, stores } = newApp();
    const handler = slowHandler(app);
    await app.start();
    for (let i = 0; i < 5; i++) await app.publish(Step, { key: `k${i}`, seq: i });
    await eventually(() => handler.started === 5, 'five running handlers');
    apps.splice(apps.indexOf(app), 1);
    const reader = broker.connect();
    await app.close({ deadlineMs: 5000 });
    expect(handler.finished).toBe(5);
    // a new member of the group starts after the committed offsets: nothing is redelivered. A probe
    // on each partition, after the five, shows how far it read: a redelivery would come before it
    const probes = [0, 1].map((partition) => Array.from({ length: 20 }, (_, i) => `probe-${i}`).find((key) => partitionForKey(key, 2) === partition)!);
    await reader.publish(probes.map((key) => ({ topic: 'steps', key, value: '{}' })));
    const redelivered: string[] = [];
    const sub = await reader.subscribe({ group: 'worker', topics: ['steps'] }, {
      deliver: async (batch) => void redelivered.push(...batch.deliveries.map((d) => d.key)),
      revoked: async () => {},
    });
    await eventually(() => probes.every((probe) => redelivered.includes(probe)), 'the probes read');
    await sub.close();
    expect(redelivered.sort()).toEqual([...probes].sort());
    void stores;
  });

  it('close() waits as asked past the longest timer (Infinity, 2^31 ms) instead of abandoning handlers at once, and refuses a deadline that is no duration', async () => {
    for (const deadlineMs of [Number.POSITIVE_INFINITY, 2 ** 31]) {
      const { app } = newApp();
      const handled: string[] = [];
      app.instrumentation.on((e) => {
        if (e.kind === 'handled') handled.push(e.outcome);
      });
      const handler = slowHandler(app);
      await app.start();
      await app.publish(Step, { key: 'k', seq: 1 });
      await eventually(() => handler.started === 1, 'the handler running');
      apps.splice(apps.indexOf(app), 1);
      await app.close({ deadlineMs });
      // finished and committed (a 'handled' fact follows the commit), not abandoned after 1 ms
      expect(handler.finished).toBe(1);
      expect(handled).toEqual(['applied']);
    }
    const { app } = newApp();
    await app.start();
    for (const deadlineMs of [Number.NaN, -1]) {
      await expect(app.close({ deadlineMs })).rejects.toMatchObject({ code: 'invalid-options', message: expect.stringContaining('close({ deadlineMs }) must be a number >= 0') });
    }
  });
});
