import { Type } from '@sinclair/typebox';
import { afterEach, describe, expect, it } from 'vitest';
import { readyInBackground } from './support.js';
import { createApp, createManualClock, defineEvent, MAX_TIMER_MS, partitionForKey, policyStep, silentLogger, type App, type AppOptions, type Broker, type Envelope, type InstrumentationEvent } from '@herald/core';
import { memoryBroker, memoryStores, type MemoryTx } from '@herald/testing';

const Step = defineEvent({
  type: 'Step',
  topic: 'steps',
  key: (d) => d.key,
  schema: Type.Object({ key: Type.String(), seq: Type.Integer(), fail: Type.Optional(Type.Integer()) }, { additionalProperties: false }),
});
const Echo = defineEvent({ type: 'Echo', topic: 'echoes', key: (d) => d.key, schema: Type.Object({ key: Type.String(), seq: Type.Integer() }) });

const apps: App<MemoryTx>[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close({ deadlineMs: 1000 })));
});


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
    const app = createApp<MemoryTx>({
      broker: lossy,
      stores: { ...stores, close: async () => {} },
      logger: silentLogger,
      events: [Step],
      handlerDefaults: { retry: { maxAttempts: 1 }, deadLetter: 'park-key' },
      relay: { idleMs: 2 },
    });
    app.on(Step, { group: 'worker' }, async (event) => {
      if (event.data.seq === 0 && !healthy) throw new Error('downstream unavailable');
      applied.push(event.data.seq);
    });
    apps.push(app);
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

function newApp(options: { deadLetter?: 'skip' | 'park-key'; concurrency?: number } = {}) {
  const broker = memoryBroker({ partitions: 2, maxBatch: 50 });
  const stores = memoryStores();
  const app = createApp<MemoryTx>({
    broker,
    stores,
    logger: silentLogger,
    events: [Step, Echo],
    handlerDefaults: { retry: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 5 }, deadLetter: options.deadLetter ?? 'skip' },
    groups: { worker: { concurrency: options.concurrency ?? 8, commitIntervalMs: 10 } },
    relay: { idleMs: 2 },
  });
  apps.push(app);
  return { app, broker, stores };
}

async function eventually(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('createApp on the in-memory engine', () => {
  it('applies each effect once, in per-key order, and chains correlation and causation ids', async () => {
    const { app, stores } = newApp({ concurrency: 4 });
    const applied: Record<string, number[]> = {};
    const echoes: Envelope[] = [];
    app.on(Step, { group: 'worker' }, async (event, ctx) => {
      await new Promise((r) => setTimeout(r, Math.random() * 2)); // keys finish out of order
      (applied[event.data.key] ??= []).push(event.data.seq);
      ctx.tx.set(`effect/${event.id}`, event.data.seq);
      await ctx.publish(Echo, { key: event.data.key, seq: event.data.seq });
    });
    app.on(Echo, { group: 'echo-reader' }, async (event) => void echoes.push(event));
    await app.start();
    const sent: Envelope[] = [];
    await Promise.all(
      Array.from({ length: 20 }, async (_, k) => {
        for (let seq = 0; seq < 10; seq++) sent.push(await app.publish(Step, { key: `k${k}`, seq }));
      }),
    );
    await eventually(() => echoes.length === 200, '200 echoes');
    for (let k = 0; k < 20; k++) expect(applied[`k${k}`]).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const effects = await stores.transaction(async (tx) => tx.keys('effect/'));
    expect(effects).toHaveLength(200);
    const byId = new Map(sent.map((e) => [e.id, e]));
    for (const echo of echoes) {
      const cause = byId.get(echo.causationId!)!;
      expect(cause).toBeDefined();
      expect(echo.correlationId).toBe(cause.correlationId);
    }
  });

  it('sends poison events to the dead letter store with their reason while other keys flow', async () => {
    const { app, broker } = newApp();
    const applied: string[] = [];
    app.on(Step, { group: 'worker' }, async (event) => {
      if (event.data.fail) throw new Error(`always fails ${event.data.key}`);
      applied.push(event.data.key);
    });
    await app.start();
    const wire = (type: string, data: unknown) =>
      JSON.stringify({ id: crypto.randomUUID(), type, version: 1, topic: 'steps', key: 'bad', correlationId: 'c', causationId: null, occurredAt: new Date().toISOString(), headers: {}, data });
    await broker.publish([
      { topic: 'steps', key: 'bad', value: '{"not json' },
      { topic: 'steps', key: 'bad', value: wire('Nope', {}) },
      { topic: 'steps', key: 'bad', value: wire('Step', { key: 'bad', seq: 'one' }) },
    ]);
    await app.publish(Step, { key: 'thrower', seq: 1, fail: 1 });
    for (let i = 0; i < 5; i++) await app.publish(Step, { key: `good${i}`, seq: i });
    await eventually(async () => (await app.deadLetters()).length === 4 && applied.length === 5, 'four dead letters and five applied');
    const letters = await app.deadLetters();
    expect(letters.map((l) => l.reason).sort()).toEqual(['handler-failed', 'malformed-envelope', 'schema-violation', 'unknown-event-type']);
    const thrown = letters.find((l) => l.reason === 'handler-failed')!;
    expect(thrown).toMatchObject({ attempts: 3, status: 'dead', group: 'worker', handler: 'worker:Step', eventType: 'Step' });
    expect(thrown.error.message).toBe('always fails thrower');
    expect(thrown.error.stack).toContain('always fails thrower');
    expect(thrown.lastFailureAt).toBeGreaterThanOrEqual(thrown.firstFailureAt);
    expect(JSON.parse(thrown.envelope).data).toEqual({ key: 'thrower', seq: 1, fail: 1 });
    const invalid = letters.find((l) => l.reason === 'schema-violation')!;
    expect(invalid.error.details).toMatchObject({ issues: [expect.objectContaining({ path: '/seq' })] });
    expect(letters.find((l) => l.reason === 'malformed-envelope')!.envelope).toBe('{"not json');
  });

  it('refuses to publish an invalid or oversized event', async () => {
    const { app } = newApp();
    await expect(app.publish(Step, { key: 'k', seq: 1.5 } as never)).rejects.toMatchObject({ code: 'schema-violation' });
    const small = createApp<MemoryTx>({ broker: memoryBroker(), stores: memoryStores(), logger: silentLogger, maxEventBytes: 200 });
    apps.push(small);
    await expect(small.publish(Echo, { key: 'k'.repeat(300), seq: 1 })).rejects.toMatchObject({ code: 'event-too-large' });
  });

  it('refuses at publish an event its consumers would refuse (an empty correlation id): its transaction commits nothing, no group skips it', async () => {
    const { app, stores } = newApp();
    const handled: number[] = [];
    app.on(Step, { group: 'worker' }, async (event) => void handled.push(event.data.seq));
    await app.start();
    // one key throughout: per-key order means a committed event of seq 0-2 would be handled before seq 3
    const refused = app.transaction(async (_tx, publish) => {
      await publish(Step, { key: 'k', seq: 0 });
      await publish(Step, { key: 'k', seq: 1 }, { correlationId: '' });
    });
    await expect(refused).rejects.toMatchObject({ code: 'invalid-options', message: expect.stringContaining('"correlationId" must be a non-empty string') });
    await expect(app.publish(Step, { key: 'k', seq: 2 }, { headers: { attempt: 1 as unknown as string } })).rejects.toMatchObject({ code: 'invalid-options' });
    await app.publish(Step, { key: 'k', seq: 3 });
    await eventually(() => handled.includes(3), 'the event published after the refused ones');
    expect(handled, 'nothing of the refused publishes was committed and relayed').toEqual([3]);
    expect(await app.deadLetters(), 'no event was skipped as malformed').toEqual([]);
    expect(await stores.outbox.backlog(), 'nothing is left in the outbox to relay').toEqual([]);
  });

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

  it('redriving the same letters twice applies nothing twice', async () => {
    const { app, stores } = newApp();
    let fail = true;
    let runs = 0;
    app.on(Step, { group: 'worker' }, async (event, ctx) => {
      if (fail) throw new Error('flaky');
      runs++;
      ctx.tx.set(`applied/${event.id}`, true);
    });
    await app.start();
    await app.publish(Step, { key: 'a', seq: 1 });
    await eventually(async () => (await app.deadLetters()).length === 1, 'a dead letter');
    fail = false;
    const [letter] = await app.deadLetters();
    await stores.deadLetters.setStatus([letter!.id], 'dead'); // as if a first redrive crashed before marking it
    await app.redrive({ group: 'worker', ids: [letter!.id] });
    await stores.deadLetters.setStatus([letter!.id], 'dead');
    await app.redrive({ group: 'worker', ids: [letter!.id] });
    expect(runs).toBe(1);
    expect(await stores.transaction(async (tx) => tx.keys('applied/'))).toHaveLength(1);
  });

  it('retries a transient failure with backoff, and a retrying key does not block its partition', async () => {
    const { app } = newApp({ concurrency: 4 });
    const seen: InstrumentationEvent[] = [];
    app.instrumentation.on((e) => seen.push(e));
    let slowFailures = 0;
    const done: string[] = [];
    app.on(Step, { group: 'worker', retry: { maxAttempts: 5, initialDelayMs: 200, maxDelayMs: 200, jitter: 0 } }, async (event) => {
      if (event.data.key === 'slow' && slowFailures < 2) {
        slowFailures++;
        throw new Error('transient');
      }
      done.push(event.data.key);
    });
    await app.start();
    await app.publish(Step, { key: 'slow', seq: 0 });
    for (let i = 0; i < 20; i++) await app.publish(Step, { key: `fast${i}`, seq: i });
    await eventually(() => done.length === 21, 'all handled', 5000);
    expect(done.indexOf('slow')).toBe(20); // every other key finished during slow's 400 ms of backoff
    expect(seen.filter((e) => e.kind === 'retried')).toHaveLength(2);
    expect(seen.find((e) => e.kind === 'handled' && e.attempts === 3)).toBeDefined();
  });

  it('reports a delivery as handled only once it is over: not a redrive that fails again, nor a dead letter that could not be stored', async () => {
    const { app, stores } = newApp();
    const handled: string[] = [];
    app.instrumentation.on((e) => {
      if (e.kind === 'handled') handled.push(`${e.eventId}:${e.outcome}`);
    });
    let storeDown = true;
    const add = stores.deadLetters.add.bind(stores.deadLetters);
    stores.deadLetters.add = async (letter) => {
      if (storeDown) {
        storeDown = false;
        throw new Error('dead letter store down');
      }
      return add(letter);
    };
    app.on(Step, { group: 'worker' }, async () => {
      throw new Error('rejected');
    });
    await app.start();
    const { id } = await app.publish(Step, { key: 'a', seq: 1 });
    await eventually(async () => (await app.deadLetters()).length === 1, 'a dead letter');
    // the first dead letter was not stored: the delivery came again, and only its end is reported
    expect(handled).toEqual([`${id}:dead-lettered`]);
    // a redrive that fails again reports its failure itself: nothing was handled
    expect(await app.redrive({ group: 'worker' })).toMatchObject({ redriven: 0, failed: 1 });
    expect(handled).toEqual([`${id}:dead-lettered`]);
  });

  it('close() lets running handlers finish and commits them', async () => {
    const { app, broker, stores } = newApp();
    let running = 0;
    let finished = 0;
    app.on(Step, { group: 'worker' }, async (event, ctx) => {
      running++;
      await new Promise((r) => setTimeout(r, 100));
      ctx.tx.set(`applied/${event.id}`, true);
      finished++;
    });
    await app.start();
    for (let i = 0; i < 5; i++) await app.publish(Step, { key: `k${i}`, seq: i });
    await eventually(() => running === 5, 'five running handlers');
    apps.splice(apps.indexOf(app), 1);
    const reader = broker.connect();
    await app.close({ deadlineMs: 5000 });
    expect(finished).toBe(5);
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
      let started = 0;
      let finished = 0;
      app.on(Step, { group: 'worker' }, async (event, ctx) => {
        started++;
        await new Promise((r) => setTimeout(r, 100));
        ctx.tx.set(`applied/${event.id}`, true);
        finished++;
      });
      await app.start();
      await app.publish(Step, { key: 'k', seq: 1 });
      await eventually(() => started === 1, 'the handler running');
      apps.splice(apps.indexOf(app), 1);
      await app.close({ deadlineMs });
      // finished and committed (a 'handled' fact follows the commit), not abandoned after 1 ms
      expect(finished).toBe(1);
      expect(handled).toEqual(['applied']);
    }
    const { app } = newApp();
    await app.start();
    for (const deadlineMs of [Number.NaN, -1]) {
      await expect(app.close({ deadlineMs })).rejects.toMatchObject({ code: 'invalid-options', message: expect.stringContaining('close({ deadlineMs }) must be a number >= 0') });
    }
  });

  it('with transactionBatch, shares store transactions among calls made together, each committing or failing alone', async () => {
    const broker = memoryBroker({ partitions: 2 });
    const stores = memoryStores();
    let transactions = 0;
    const counting = new Proxy(stores, {
      get(target, name, receiver) {
        if (name === 'transaction') return (work: (tx: MemoryTx) => Promise<unknown>) => (transactions++, target.transaction(work));
        return Reflect.get(target, name, receiver) as unknown;
      },
    });
    const app = createApp<MemoryTx>({ broker, stores: counting, logger: silentLogger, events: [Step], relay: { idleMs: 2 }, transactionBatch: 8 });
    apps.push(app);
    const received: number[] = [];
    app.on(Step, { group: 'worker' }, async (event) => void received.push(event.data.seq));
    await app.start();
    transactions = 0;
    const outcomes = await Promise.allSettled(
      Array.from({ length: 8 }, (_, seq) =>
        app.transaction(async (tx, publish) => {
          tx.set(`order/${seq}`, seq);
          if (seq === 3) throw new Error('order 3 refused');
          await publish(Step, { key: `k${seq}`, seq });
        }),
      ),
    );
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled']);
    // one batch rolled back at order 3, then one for the other seven
    expect(transactions).toBe(2);
    expect(await stores.transaction(async (tx) => tx.keys('order/'))).toHaveLength(7);
    await eventually(() => received.length === 7, 'the seven events');
    expect(received.sort()).toEqual([0, 1, 2, 4, 5, 6, 7]);
    expect(() => createApp<MemoryTx>({ broker, stores, transactionBatch: 0 })).toThrow(/transactionBatch/);
  });

  it('refuses durations longer than the longest timer (Node would fire it after 1 ms) with invalid-options', () => {
    const engine = { broker: memoryBroker(), stores: memoryStores(), logger: silentLogger };
    const tooLong = MAX_TIMER_MS + 1;
    const refused: Partial<AppOptions<MemoryTx>>[] = [
      { handlerDefaults: { timeoutMs: tooLong } },
      { handlerDefaults: { retry: { maxDelayMs: tooLong } } },
      { groups: { worker: { commitIntervalMs: tooLong } } },
      { closeDeadlineMs: tooLong },
      { timers: { pollIntervalMs: tooLong } },
      { timers: { backoff: { maxDelayMs: tooLong } } },
    ];
    for (const options of refused) {
      expect(() => createApp<MemoryTx>({ ...engine, ...options }), JSON.stringify(options)).toThrow(expect.objectContaining({ code: 'invalid-options', message: expect.stringContaining(String(tooLong)) }));
    }
    const app = createApp<MemoryTx>({ ...engine, handlerDefaults: { timeoutMs: MAX_TIMER_MS, retry: { maxDelayMs: MAX_TIMER_MS } }, closeDeadlineMs: MAX_TIMER_MS, timers: { pollIntervalMs: MAX_TIMER_MS } });
    expect(() => app.on(Step, { group: 'worker', timeoutMs: tooLong }, async () => {})).toThrow(expect.objectContaining({ code: 'invalid-options' }));
    expect(() => app.on(Step, { group: 'worker', retry: { initialDelayMs: tooLong, maxDelayMs: tooLong } }, async () => {})).toThrow(expect.objectContaining({ code: 'invalid-options' }));
  });

  it('reports the partitions a rebalance assigns to and takes from a member', async () => {
    const { app } = newApp();
    const facts: InstrumentationEvent[] = [];
    app.instrumentation.on((fact) => {
      if (fact.kind === 'assigned' || fact.kind === 'revoked') facts.push(fact);
    });
    app.on(Step, { group: 'worker' }, async () => {});
    await app.start();
    await eventually(() => facts.length === 1, 'the assignment');
    apps.splice(apps.indexOf(app), 1);
    await app.close({ deadlineMs: 1000 });
    const both = [
      { topic: 'steps', partition: 0 },
      { topic: 'steps', partition: 1 },
    ];
    expect(facts.map((f) => f.kind)).toEqual(['assigned', 'revoked']);
    for (const fact of facts) {
      if (fact.kind !== 'assigned' && fact.kind !== 'revoked') continue;
      expect(fact.group).toBe('worker');
      expect([...fact.partitions].sort((a, b) => a.partition - b.partition)).toEqual(both);
    }
  });

  for (const batch of [false, true]) {
    it(`finishes a revoke while a delivery keeps failing outside the handler policies: the partition goes to its new owner, uncommitted (${batch ? 'batch' : 'event'} handlers)`, async () => {
      // the redispatch backoff runs on this clock, which never moves: only the revoke ends the wait
      const clock = createManualClock(Date.now());
      const broker = memoryBroker({ partitions: 2 });
      const stores = memoryStores();
      stores.deadLetters.add = async () => {
        throw new Error('dead letter store down');
      };
      /** A member of group `worker` telling `handle` which events (`partition/key`) it was given. */
      const member = (handle: (seen: string[]) => void) => {
        const app = createApp<MemoryTx>({
          broker: broker.connect(),
          stores: { ...stores, close: async () => {} },
          clock,
          logger: silentLogger,
          events: [Step],
          handlerDefaults: { retry: { maxAttempts: 1 } },
          relay: false,
        });
        if (batch) app.onBatch(Step, { group: 'worker' }, async (events, ctx) => handle(events.map((event, i) => `${ctx.deliveries[i]!.partition}/${event.data.key}`)));
        else app.on(Step, { group: 'worker' }, async (event, ctx) => handle([`${ctx.delivery.partition}/${event.data.key}`]));
        apps.push(app);
        return app;
      };
      const failed = new Set<string>();
      const first = member((seen) => {
        seen.forEach((s) => failed.add(s));
        throw new Error('rejected');
      });
      await first.start();
      await first.publishDirect.many(Step, ['a', 'b', 'c', 'd', 'e', 'f'].map((key, seq) => ({ key, seq })));
      await eventually(() => failed.size === 6, 'every event failed, a dead letter not stored');
      const moved = [...failed].filter((seen) => seen.startsWith('1/')).sort();
      expect(moved.length).toBeGreaterThan(0);
      // the second member gets partition 1 once the first let it go
      const handled: string[] = [];
      const second = member((seen) => void handled.push(...seen));
      const ready = readyInBackground(second);
      await eventually(ready, 'the second member assigned its partition while the dead letter store is still down', 3_000);
      await eventually(() => handled.length === moved.length, 'the moved events handled by their new owner');
      expect(handled.sort()).toEqual(moved);
    });
  }

  it("ends a failing delivery's backoff when its partition is revoked: the revoke does not wait out its retries, and the new owner handles it", async () => {
    // the backoff runs on this clock, which never moves: only the revoke ends it
    const clock = createManualClock(Date.now());
    const broker = memoryBroker({ partitions: 2 });
    const stores = memoryStores();
    const member = (handle: (key: string) => void) => {
      const app = createApp<MemoryTx>({
        broker: broker.connect(),
        stores: { ...stores, close: async () => {} },
        clock,
        logger: silentLogger,
        events: [Step],
        handlerDefaults: { retry: { maxAttempts: 5, initialDelayMs: 60_000, maxDelayMs: 60_000 } },
        relay: false,
      });
      app.on(Step, { group: 'worker' }, async (event) => handle(event.data.key));
      apps.push(app);
      return app;
    };
    const key = ['a', 'b', 'c', 'd'].find((k) => partitionForKey(k, 2) === 1)!;
    let failures = 0;
    const first = member(() => {
      failures++;
      throw new Error('downstream unavailable');
    });
    await first.start();
    await first.publishDirect(Step, { key, seq: 1 });
    await eventually(() => failures === 1 && clock.pending() > 0, 'the first attempt failed, a retry waiting');
    const handled: string[] = [];
    const second = member((k) => void handled.push(k));
    const ready = readyInBackground(second);
    await eventually(ready, 'the second member assigned the partition while the retry still waits', 3_000);
    await eventually(() => handled.length === 1, 'the event handled by its new owner');
    expect(handled).toEqual([key]);
    expect(failures).toBe(1);
    expect(await stores.deadLetters.list()).toEqual([]);
  });

  it('stops a batch handled one by one at the next event when its partition is revoked, leaving the rest to the new owner', async () => {
    const broker = memoryBroker({ partitions: 2 });
    const stores = memoryStores();
    const member = (handle: (keys: string[]) => Promise<void>) => {
      const app = createApp<MemoryTx>({ broker: broker.connect(), stores: { ...stores, close: async () => {} }, logger: silentLogger, events: [Step], relay: false });
      app.onBatch(Step, { group: 'worker' }, async (events) => handle(events.map((e) => e.data.key)));
      apps.push(app);
      return app;
    };
    // keys of partition 1, the one a second member takes; the first member's whole batch fails, and
    // each event alone waits for the test to let it through
    const keys = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'].filter((k) => partitionForKey(k, 2) === 1).slice(0, 4);
    const calls: string[] = [];
    let release!: () => void;
    const first = member(async (batchKeys) => {
      if (batchKeys.length > 1) throw new Error('the batch fails as a whole');
      calls.push(batchKeys[0]!);
      await new Promise<void>((resolve) => (release = resolve));
    });
    await first.start();
    await first.publishDirect.many(Step, keys.map((key, seq) => ({ key, seq })));
    await eventually(() => calls.length === 1, 'the first event of the run handled alone');
    const handled: string[] = [];
    const second = member(async (batchKeys) => void handled.push(...batchKeys));
    const ready = readyInBackground(second);
    // the revoke waits for the event in hand, not for the rest of the run
    await eventually(async () => {
      release();
      return ready();
    }, 'the second member assigned the partition', 3_000);
    expect(calls).toEqual([keys[0]]);
    await eventually(() => handled.length === keys.length - 1, 'the rest handled by the new owner');
    expect(handled).toEqual(keys.slice(1));
  });
});

describe('pipeline edits at app, group and handler level', () => {
  it('applies the app’s edit, then the group’s, then the handler’s, each to its own handlers only', async () => {
    const broker = memoryBroker({ partitions: 1 });
    const trail: string[] = [];
    const mark = (name: string) => policyStep<MemoryTx>(name, (next) => async (event, ctx) => {
      trail.push(`${name}:${(event.data as { key: string }).key}`);
      return next(event, ctx);
    });
    const app = createApp<MemoryTx>({
      broker,
      stores: memoryStores(),
      logger: silentLogger,
      events: [Step, Echo],
      relay: { idleMs: 2 },
      pipeline: (p) => p.insertBefore('transaction', mark('app')),
      groups: {
        edited: { commitIntervalMs: 10, pipeline: (p) => p.insertAfter('app', mark('group')) },
        plain: { commitIntervalMs: 10 },
      },
    });
    apps.push(app);
    const seen: string[] = [];
    // the handler's edit sees the group's step (it runs last) and can remove the app's
    app.on(Step, { group: 'edited', pipeline: (p) => (expect(p.names()).toContain('group'), p.remove('app').insertAfter('group', mark('handler'))) }, async (event) => void seen.push(`edited:${event.data.key}`));
    app.on(Echo, { group: 'edited' }, async (event) => void seen.push(`echo:${event.data.key}`));
    app.on(Step, { group: 'plain' }, async (event) => void seen.push(`plain:${event.data.key}`));
    await app.start();
    await app.publish(Step, { key: 's', seq: 1 });
    await app.publish(Echo, { key: 'e', seq: 1 });
    await eventually(() => seen.length === 3, 'three deliveries');
    // Step in `edited`: the group's step, then the handler's (the app's removed); in `plain`: the app's alone
    const steps = trail.filter((t) => t.endsWith(':s'));
    expect([...steps].sort()).toEqual(['app:s', 'group:s', 'handler:s']);
    expect(steps.indexOf('group:s')).toBeLessThan(steps.indexOf('handler:s'));
    // Echo in `edited`, no handler edit: the app's step, then the group's inside it
    expect(trail.filter((t) => t.endsWith(':e'))).toEqual(['app:e', 'group:e']);
  });
});
