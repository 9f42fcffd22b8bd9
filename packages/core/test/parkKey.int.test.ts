import { afterEach, describe, expect, it } from 'vitest';
import { closeApps, memberApp, newApp, Step } from './appFixture.js';
import { eventually } from './support.js';
import { uuidv7, type App, type Broker, type DeadLetter } from '@herald/core';
import { memoryBroker, memoryStores, type MemoryTx } from '@herald/testing';

afterEach(closeApps);

/**
 * Members of one park-key group sharing a broker and stores, whose handler fails key `sick`'s seq 0
 * until `heal()`; `commits: false` makes a member whose offset commits never land (a process that
 * dies before its commit).
 */
function sickKeyMembers() {
  const broker = memoryBroker({ partitions: 2 });
  const stores = memoryStores();
  let healthy = false;
  const applied: number[] = [];
  const member = (options: { commits?: boolean } = {}) => {
    const connected = broker.connect();
    const lossy: Broker =
      options.commits === false ? { ...connected, subscribe: async (o, sink) => ({ ...(await connected.subscribe(o, sink)), commit: async () => {} }) } : connected;
    const app = memberApp({ broker: lossy, stores, handlerDefaults: { retry: { maxAttempts: 1 }, deadLetter: 'park-key' }, relay: { idleMs: 2 } });
    app.on(Step, { group: 'worker' }, async (event) => {
      if (event.data.seq === 0 && !healthy) throw new Error('downstream unavailable');
      applied.push(event.data.seq);
    });
    return app;
  };
  return { member, stores, applied, heal: () => void (healthy = true) };
}

/** One letter parked key `sick`'s seq 1 and was taken back (no second one, none parked), and the key flows on: seq 2 is applied after it. */
async function expectTakenBackAndFlowing(app: App<MemoryTx>, applied: number[]): Promise<void> {
  expect(await app.deadLetters({ status: 'parked' })).toEqual([]);
  expect((await app.deadLetters()).filter((l) => l.reason === 'parked-behind-key').map((l) => l.status)).toEqual(['redriven']);
  await app.publish(Step, { key: 'sick', seq: 2 });
  await eventually(() => applied.length === 2, 'the key flows on');
  expect(applied).toEqual([1, 2]);
}

/** A park-key app whose key `sick` has its first event dead-lettered; after `heal()` that event would pass. */
async function sickKey() {
  const { app, stores } = newApp({ deadLetter: 'park-key' });
  let healthy = false;
  const applied: number[] = [];
  app.on(Step, { group: 'worker' }, async (event) => {
    if (event.data.seq === 0 && !healthy) throw new Error('downstream unavailable');
    applied.push(event.data.seq);
  });
  await app.start();
  await app.publish(Step, { key: 'sick', seq: 0 });
  await eventually(async () => (await app.deadLetters({ status: 'dead' })).length === 1, 'the first event dead-lettered');
  const [blocker] = await app.deadLetters({ status: 'dead' });
  return { app, stores, applied, blocker: blocker!, heal: () => void (healthy = true) };
}

/**
 * A redrive's last write landing between the consumer's look at `key` and its parking write: the
 * first look still sees `blocker` dead, and the letter is redriven right after it.
 */
function redriveAfterTheLook(stores: ReturnType<typeof memoryStores>, key: string, blocker: string): void {
  const isKeyParked = stores.deadLetters.isKeyParked.bind(stores.deadLetters);
  let race = true;
  stores.deadLetters.isKeyParked = async (group, topic, looked) => {
    const parked = await isKeyParked(group, topic, looked);
    if (race && looked === key) {
      race = false;
      await stores.deadLetters.setStatus([blocker], 'redriven');
    }
    return parked;
  };
}

/**
 * Another member failing the same record while this one parks it: its dead letter is stored just
 * before this one's parking write, which the store then keeps out, resolving with that letter.
 * Resolves with the letters it stored.
 */
function failsConcurrently(stores: ReturnType<typeof memoryStores>): DeadLetter[] {
  const add = stores.deadLetters.add.bind(stores.deadLetters);
  const stored: DeadLetter[] = [];
  stores.deadLetters.add = async (letter) => {
    if (letter.status === 'parked' && stored.length === 0) {
      const dead: DeadLetter = { ...letter, id: uuidv7(), status: 'dead', reason: 'handler-failed', attempts: 1 };
      expect(await add(dead)).toBeUndefined();
      stored.push(dead);
    }
    return add(letter);
  };
  return stored;
}

describe('the park-key policy on the in-memory engine', () => {
  it('parks later events of a key behind its dead letter, and redrive applies them once, in order', async () => {
    const { app } = newApp({ deadLetter: 'park-key' });
    let healthy = false;
    const applied: number[] = [];
    app.on(Step, { group: 'worker' }, async (event, ctx) => {
      if (event.data.key === 'sick' && event.data.seq === 0 && !healthy) throw new Error('downstream unavailable');
      if (event.data.key === 'sick') applied.push(event.data.seq);
      ctx.tx.set(`applied/${event.id}`, true);
    });
    await app.start();
    for (let seq = 0; seq < 4; seq++) await app.publish(Step, { key: 'sick', seq });
    await app.publish(Step, { key: 'fine', seq: 0 });
    await eventually(async () => (await app.deadLetters({ status: 'parked' })).length === 3, 'three parked letters');
    expect(applied).toEqual([]);
    expect((await app.deadLetters({ status: 'dead' })).map((l) => l.key)).toEqual(['sick']);

    healthy = true;
    const first = await app.redrive({ group: 'worker' });
    expect(first).toEqual({ redriven: 4, failed: 0, stillParked: 0 });
    expect(applied).toEqual([0, 1, 2, 3]);
    const second = await app.redrive({ group: 'worker' });
    expect(second.redriven).toBe(0);
    expect(applied).toEqual([0, 1, 2, 3]);
    await app.publish(Step, { key: 'sick', seq: 4 });
    await eventually(() => applied.length === 5, 'the key flows again after redrive');
    expect(applied).toEqual([0, 1, 2, 3, 4]);
  });

  it('handles an event it parked when what it waited behind was redriven meanwhile, instead of holding the key', async () => {
    const { app, stores, applied, blocker, heal } = await sickKey();
    // a redrive's last write lands between the consumer's look at the key and its parking write:
    // the look still sees the letter dead, the parking comes after it was redriven
    redriveAfterTheLook(stores, 'sick', blocker.id);
    heal();
    await app.publish(Step, { key: 'sick', seq: 1 });
    await eventually(() => applied.length === 1, 'the event handled, not left parked');
    expect(applied).toEqual([1]);
    expect(await app.deadLetters({ status: 'parked' })).toEqual([]);
    expect((await app.deadLetters({ status: 'redriven' })).map((l) => l.reason).sort()).toEqual(['parked-behind-key', blocker.reason].sort());
    await app.publish(Step, { key: 'sick', seq: 2 });
    await eventually(() => applied.length === 2, 'the key flows on');
    expect(applied).toEqual([1, 2]);
  });

  it('takes back a letter it parked when the take-back fails once, without parking the event again behind it', async () => {
    const { app, stores, applied, blocker, heal } = await sickKey();
    // as above, the letter it waits behind is redriven between the look and the parking write...
    redriveAfterTheLook(stores, 'sick', blocker.id);
    // ...and the store refuses the take-back of the letter it parked, once
    const setStatus = stores.deadLetters.setStatus.bind(stores.deadLetters);
    let refused = 0;
    stores.deadLetters.setStatus = async (ids, status) => {
      if (refused === 0 && ids.every((id) => id !== blocker.id)) {
        refused++;
        throw new Error('dead letter store unavailable');
      }
      return setStatus(ids, status);
    };
    heal();
    await app.publish(Step, { key: 'sick', seq: 1 });
    await eventually(() => applied.length === 1, 'the event handled once its letter is taken back');
    expect(refused).toBe(1);
    await expectTakenBackAndFlowing(app, applied);
  });

  it('takes a redelivered record it had dead-lettered as dead-lettered, never parking it behind its own letter', async () => {
    const { member, applied, heal } = sickKeyMembers();
    const first = member({ commits: false });
    await first.start();
    await first.publish(Step, { key: 'sick', seq: 0 });
    await eventually(async () => (await first.deadLetters({ status: 'dead' })).length === 1, 'the event dead-lettered');
    await first.close({ deadlineMs: 1000 });
    const second = member({ commits: true });
    const handled: string[] = [];
    second.instrumentation.on((e) => {
      if (e.kind === 'handled') handled.push(e.outcome);
    });
    await second.start();
    await eventually(() => handled.length === 1, 'the redelivered record settled');
    expect(handled).toEqual(['dead-lettered']);
    // one letter for the record, dead: no second one parked behind it
    expect((await second.deadLetters()).map((l) => [l.reason, l.status])).toEqual([['handler-failed', 'dead']]);
    heal();
    expect(await second.redrive({ group: 'worker' })).toMatchObject({ redriven: 1 });
    expect(applied).toEqual([0]);
  });

  it('takes back, once redelivered, a letter it parked and could not take back before the consumer closed', async () => {
    const { member, stores, applied, heal } = sickKeyMembers();
    const first = member();
    await first.start();
    await first.publish(Step, { key: 'sick', seq: 0 });
    await eventually(async () => (await first.deadLetters({ status: 'dead' })).length === 1, 'the first event dead-lettered');
    const [blocker] = await first.deadLetters({ status: 'dead' });
    // the letter it waits behind is redriven between the look and the parking write...
    redriveAfterTheLook(stores, 'sick', blocker.id);
    // ...and the store refuses to take back the letter it parked, until this member is gone
    const setStatus = stores.deadLetters.setStatus.bind(stores.deadLetters);
    let refusing = true;
    let refused = 0;
    stores.deadLetters.setStatus = async (ids, status) => {
      if (refusing && ids.every((id) => id !== blocker!.id)) {
        refused++;
        throw new Error('dead letter store unavailable');
      }
      return setStatus(ids, status);
    };
    heal();
    await first.publish(Step, { key: 'sick', seq: 1 });
    await eventually(() => refused >= 2, 'the take-back refused, and tried again');
    await first.close({ deadlineMs: 1000 });
    expect(applied).toEqual([]);
    refusing = false;
    // redelivered to the next member, the event finds the letter it parked as its own
    const second = member();
    await second.start();
    await eventually(() => applied.length === 1, 'the redelivered event handled');
    await expectTakenBackAndFlowing(second, applied);
  });

  for (const blockerRedriven of [false, true]) {
    it(`takes a record a concurrent failure dead-lettered while it parked it as dead-lettered, leaving that letter dead (blocker ${blockerRedriven ? 'redriven meanwhile' : 'still dead'})`, async () => {
      const { app, stores, applied, blocker, heal } = await sickKey();
      const outcomes: string[] = [];
      app.instrumentation.on((e) => {
        if (e.kind === 'handled') outcomes.push(e.outcome);
      });
      if (blockerRedriven) redriveAfterTheLook(stores, 'sick', blocker.id);
      const concurrent = failsConcurrently(stores);
      heal();
      await app.publish(Step, { key: 'sick', seq: 1 });
      await eventually(() => outcomes.length === 1, 'the record settled');
      expect(outcomes).toEqual(['dead-lettered']);
      // the other member's letter is the record's, untouched: it holds the key, nothing parked, nothing handled
      expect(concurrent).toHaveLength(1);
      expect((await app.deadLetters({ key: 'sick' })).map((l) => [l.id, l.status])).toEqual([
        [blocker.id, blockerRedriven ? 'redriven' : 'dead'],
        [concurrent[0]!.id, 'dead'],
      ]);
      expect(applied).toEqual([]);
    });
  }
});
