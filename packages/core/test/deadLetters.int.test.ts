import { afterEach, describe, expect, it } from 'vitest';
import { defineErrorCodes, HeraldError } from '@herald/core';
import { closeApps, newApp, Step } from './appFixture.js';
import { eventually } from './support.js';

afterEach(closeApps);

const { specs: TestErrors } = defineErrorCodes({
  upstream: { code: 'test-upstream', retriable: false, meaning: 'the test upstream failed', action: 'none' },
});

describe('dead letters of an app on the in-memory engine', () => {
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

  it("names a poison letter's handler by what it is, not by the type its producer wrote (a metric label: made-up types would make a series each)", async () => {
    const { app, broker } = newApp();
    app.on(Step, { group: 'worker' }, async () => {});
    await app.start();
    const wire = (type: string) =>
      JSON.stringify({ id: crypto.randomUUID(), type, version: 1, topic: 'steps', key: 'bad', correlationId: 'c', causationId: null, occurredAt: new Date().toISOString(), headers: {}, data: {} });
    const types = Array.from({ length: 5 }, () => `OrderPlaced-${crypto.randomUUID()}`);
    await broker.publish([...types.map((type) => ({ topic: 'steps', key: 'bad', value: wire(type) })), { topic: 'steps', key: 'bad', value: 'no envelope' }]);
    await eventually(async () => (await app.deadLetters()).length === 6, 'six dead letters');
    const letters = await app.deadLetters();
    expect(new Set(letters.map((l) => l.handler))).toEqual(new Set(['worker:unknown-type', 'worker:unreadable']));
    // the type stays on the letter, for the operator
    expect(letters.filter((l) => l.reason === 'unknown-event-type').map((l) => l.eventType).sort()).toEqual([...types].sort());
  });

  it("keeps the error's credentials out of the letter, and the envelope as it came", async () => {
    const { app } = newApp();
    // a cause JSON cannot write and String() throws on: no prototype, and a cycle
    const noPrototype = Object.assign(Object.create(null) as Record<string, unknown>, { code: 'E42' });
    noPrototype['self'] = noPrototype;
    app.on(Step, { group: 'worker' }, async () => {
      const driver = new Error('connect to postgres://app:s3cret-pw@db/orders failed', { cause: noPrototype });
      throw new HeraldError(TestErrors.upstream, 'upstream sent Authorization: Bearer abcdefghijklmnop0123456789', {
        cause: driver,
        details: { request: { headers: { authorization: 'Bearer abcdefghijklmnop0123456789' } }, attempt: 1 },
      });
    });
    await app.start();
    await app.publish(Step, { key: 'password=kept-in-the-event', seq: 1 });
    await eventually(async () => (await app.deadLetters()).length === 1, 'one dead letter');
    const [letter] = await app.deadLetters();
    expect(letter!.error).toMatchObject({
      message: 'upstream sent Authorization: Bearer [redacted]',
      details: { request: { headers: { authorization: '[redacted]' } }, attempt: 1 },
      cause: { message: 'connect to postgres://app:[redacted]@db/orders failed', cause: { name: 'object', message: '[object Object]' } },
    });
    expect(JSON.stringify(letter!.error)).not.toMatch(/s3cret|abcdefghijklmnop/);
    // what a redrive appends again is the event as it was published
    expect(JSON.parse(letter!.envelope).data.key).toBe('password=kept-in-the-event');
    expect(letter!.key).toBe('password=kept-in-the-event');
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
});
