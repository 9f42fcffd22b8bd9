import { Type } from '@sinclair/typebox';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp, defineEvent, silentLogger, type App, type Broker, type SubscribeOptions } from '@herald/core';
import { memoryBroker, memoryStores, type MemoryTx } from '@herald/testing';
import { Echo, Step } from './appFixture.js';

// The read side (metrics) reads a group's lag on every partition of its topics, which only the app
// knows: app.subscriptions must say what each group reads, whether or not it runs here, and must be
// exactly what its consumer subscribes with when it does.

const Replayed = defineEvent({ type: 'Replayed', topic: 'steps', key: (d) => d.key, schema: Type.Object({ key: Type.String() }) });

const started: App<MemoryTx>[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((app) => app.close({ deadlineMs: 1_000 })));
});

/** An app on the in-memory engine whose broker keeps the options of every subscribe. */
function recordingApp() {
  const broker = memoryBroker({ partitions: 2 });
  const subscribed: SubscribeOptions[] = [];
  const recording: Broker = {
    publish: (records) => broker.publish(records),
    subscribe: (options, sink) => (subscribed.push(options), broker.subscribe(options, sink)),
    close: () => broker.close(),
  };
  const app = createApp<MemoryTx>({
    broker: recording,
    stores: memoryStores(),
    logger: silentLogger,
    relay: false,
    timers: false,
    groups: { audit: { start: 'latest' }, replay: { start: { timestamp: 1_000 } }, idle: { concurrency: 2 } },
  });
  const handler = async () => {};
  app.on(Step, { group: 'worker' }, handler).on(Echo, { group: 'worker' }, handler).on(Replayed, { group: 'worker' }, handler);
  app.on([Echo, Step], { group: 'audit' }, handler);
  app.onBatch(Replayed, { group: 'replay' }, handler);
  return { app, subscribed };
}

describe('app.subscriptions', () => {
  it("lists each group with handlers, in registration order: its handlers' topics once each, and its start", () => {
    const bare = createApp<MemoryTx>({ broker: memoryBroker(), stores: memoryStores(), logger: silentLogger, relay: false, timers: false });
    expect(bare.subscriptions).toEqual([]);
    const { app } = recordingApp();
    expect(app.subscriptions).toEqual([
      { group: 'worker', topics: ['steps', 'echoes'], start: 'earliest' },
      { group: 'audit', topics: ['echoes', 'steps'], start: 'latest' },
      { group: 'replay', topics: ['steps'], start: { timestamp: 1_000 } },
    ]);
  });

  it('is known before the app starts and stays so for the groups this process does not run', async () => {
    const { app, subscribed } = recordingApp();
    const before = app.subscriptions;
    started.push(app);
    await app.start({ groups: ['audit'] });
    expect(subscribed.map((s) => s.group)).toEqual(['audit']);
    expect(app.subscriptions.map((s) => s.group)).toEqual(['worker', 'audit', 'replay']);
    expect(app.subscriptions).toEqual(before);
  });

  it("is what each group's consumer subscribes with", async () => {
    const { app, subscribed } = recordingApp();
    started.push(app);
    await app.start();
    await app.ready();
    expect(subscribed.map(({ group, topics, start }) => ({ group, topics, start }))).toEqual(app.subscriptions);
  });

  it('is a new list at each read: changing one changes nothing the app or a later read holds', () => {
    const { app } = recordingApp();
    (app.subscriptions[0]!.topics as string[]).push('elsewhere');
    (app.subscriptions as unknown[]).length = 0;
    expect(app.subscriptions[0]).toEqual({ group: 'worker', topics: ['steps', 'echoes'], start: 'earliest' });
  });
});
