import { Type } from '@sinclair/typebox';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp, defineEvent, silentLogger, type App, type InstrumentationEvent } from '@herald/core';
import { memoryBroker, memoryStores, type MemoryTx } from '@herald/testing';

const Step = defineEvent({ type: 'Step', topic: 'steps', key: (d) => d.key, schema: Type.Object({ key: Type.String(), seq: Type.Integer() }) });
const ID = '0190a9a4-6b1e-7c3d-8e2f-1a2b3c4d5e6f';

const apps: App<MemoryTx>[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close({ deadlineMs: 1000 })));
});

async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('a batch holding one event twice', () => {
  it('applies its first delivery once and reports the later copy as a duplicate', async () => {
    const app = createApp<MemoryTx>({ broker: memoryBroker({ partitions: 1 }), stores: memoryStores(), logger: silentLogger, events: [Step] });
    apps.push(app);
    const received: number[][] = [];
    app.onBatch(Step, { group: 'totals' }, async (events) => void received.push(events.map((e) => e.data.seq)));
    const outcomes: string[] = [];
    app.instrumentation.on((fact: InstrumentationEvent) => {
      if (fact.kind === 'handled') outcomes.push(`${fact.offset}:${fact.outcome}`);
    });
    // an append retried with the same id (publishDirect's advice after a failed call) is on the log twice, with another event between
    await app.publishDirect(Step, { key: 'k', seq: 1 }, { id: ID });
    await app.publishDirect(Step, { key: 'k', seq: 2 });
    await app.publishDirect(Step, { key: 'k', seq: 1 }, { id: ID });
    await app.start();
    await until(() => outcomes.length === 3, 'the three deliveries handled');
    expect(received).toEqual([[1, 2]]);
    expect(outcomes).toEqual(['0:applied', '1:applied', '2:duplicate']);
  });
});

describe('a batch whose deadline passes while its inbox marks wait', () => {
  it('does not call the batch handler (its effects outside the database would happen for an abandoned attempt)', async () => {
    const stores = memoryStores();
    let slow = true;
    const inbox = stores.inbox;
    // the first batch's first mark waits 300 ms (on PostgreSQL: the row lock of an attempt still running)
    const markHandled: typeof inbox.markHandled = async (tx, entry) => {
      if (slow) {
        slow = false;
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
      return inbox.markHandled(tx, entry);
    };
    const app = createApp<MemoryTx>({ broker: memoryBroker({ partitions: 1 }), stores: { ...stores, inbox: { ...inbox, markHandled } }, logger: silentLogger, events: [Step], relay: { idleMs: 2 } });
    apps.push(app);
    const calls: { size: number; aborted: boolean }[] = [];
    app.onBatch(Step, { group: 'g', timeoutMs: 100, retry: { maxAttempts: 2, initialDelayMs: 1, maxDelayMs: 2 } }, async (events, ctx) => void calls.push({ size: events.length, aborted: ctx.signal.aborted }));
    await app.publish.many(Step, [{ key: 'a', seq: 1 }, { key: 'b', seq: 2 }]);
    await app.start();
    await until(() => calls.length >= 2, 'the events handled again one by one');
    expect(calls).toEqual([{ size: 1, aborted: false }, { size: 1, aborted: false }]);
  });
});

describe('a batch whose dead letter store fails for a moment', () => {
  /** Stores, kept open when an app closes, whose dead letter store refuses the letters `refuse` picks (the nth added, from 1). */
  function failingLetters(refuse: (nth: number) => boolean) {
    const stores = memoryStores();
    const add = stores.deadLetters.add.bind(stores.deadLetters);
    let adds = 0;
    stores.deadLetters.add = async (letter) => {
      if (refuse(++adds)) throw new Error('dead letter store unavailable');
      return add(letter);
    };
    return { ...stores, close: async () => {} };
  }

  it('tries again from the event it stopped at: an event dead-lettered earlier in the batch is not attempted or dead-lettered again', async () => {
    const stores = failingLetters((nth) => nth === 2);
    const app = createApp<MemoryTx>({ broker: memoryBroker({ partitions: 1 }), stores, logger: silentLogger, events: [Step], relay: { idleMs: 2 }, handlerDefaults: { retry: { maxAttempts: 1 } } });
    apps.push(app);
    const attempts: number[] = [];
    app.onBatch(Step, { group: 'g' }, async (events) => {
      attempts.push(...events.map((e) => e.data.seq));
      throw new Error('rejected');
    });
    // one transaction, one batch: seq 1 is dead-lettered, then seq 2's letter is refused once
    await app.publish.many(Step, [{ key: 'a', seq: 1 }, { key: 'b', seq: 2 }]);
    await app.start();
    await until(async () => (await stores.deadLetters.list({ key: 'b' })).length > 0, 'seq 2 dead-lettered');
    expect((await stores.deadLetters.list()).map((l) => `${l.key}@${l.offset}`)).toEqual(['a@0', 'b@1']);
    // seq 1: in the batch, then alone; seq 2 likewise, and again once its letter could not be stored
    expect(attempts.filter((seq) => seq === 1)).toHaveLength(2);
  });

  it('commits the events it settled when it stops midway (a close): the next member does not dead-letter them again', async () => {
    const broker = memoryBroker({ partitions: 1 });
    let healed = false;
    const stores = failingLetters((nth) => nth >= 2 && !healed);
    const attempts: number[] = [];
    const member = () => {
      const app = createApp<MemoryTx>({ broker: broker.connect(), stores, logger: silentLogger, events: [Step], relay: { idleMs: 2 }, handlerDefaults: { retry: { maxAttempts: 1 } } });
      app.onBatch(Step, { group: 'g' }, async (events) => {
        attempts.push(...events.map((e) => e.data.seq));
        throw new Error('rejected');
      });
      apps.push(app);
      return app;
    };
    const first = member();
    await first.publish.many(Step, [{ key: 'a', seq: 1 }, { key: 'b', seq: 2 }]);
    await first.start();
    // seq 1 dead-lettered; seq 2's letter refused, and tried again (alone)
    await until(() => attempts.filter((seq) => seq === 2).length >= 3, 'seq 2 tried again');
    await first.close({ deadlineMs: 1000 });
    healed = true;
    const second = member();
    await second.start();
    await until(async () => (await stores.deadLetters.list({ key: 'b' })).length > 0, 'seq 2 dead-lettered by the next member');
    expect((await stores.deadLetters.list()).map((l) => `${l.key}@${l.offset}`)).toEqual(['a@0', 'b@1']);
  });
});
