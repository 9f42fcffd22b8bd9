import { expect } from 'vitest';
import { counts, effectId, type PipelineFixture, type StepData } from './fixture.js';

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/**
 * A schema-invalid event, an unknown type, a malformed envelope (all from a raw producer) and an
 * event whose handler always throws end as dead letters with their reasons and untouched wire
 * values; the other keys, and later events of the failing key (policy skip), are all handled.
 */
export async function deadLettersPoison<Tx>(f: PipelineFixture<Tx>): Promise<void> {
  const group = f.group('audit');
  const app = f.app().on(f.Step, { group }, async (event, ctx) => {
    if (event.data.amount === 13) throw new Error(`unlucky amount for ${event.data.orderId}`, { cause: Object.assign(new Error('card declined', { cause: 'issuer said no' }), { code: 'E_DECLINED' }) });
    await f.harness.writeEffect(ctx.tx, effectId(event.data));
  });
  await app.start();
  const good = (seq: number) => Promise.all(range(10).map((i) => app.publish(f.Step, { orderId: `good-${i}`, seq })));
  await good(0);
  const invalid = f.envelope('OrderStep', 'bad-schema', { orderId: 'bad-schema', seq: 'first' });
  const unknown = f.envelope('OrderTeleported', 'mystery', { orderId: 'mystery' });
  const malformed = '{"this is": not json';
  await f.harness.broker.publish([
    { topic: f.topic, key: 'bad-schema', value: invalid },
    { topic: f.topic, key: 'mystery', value: unknown },
    { topic: f.topic, key: 'garbage', value: malformed },
  ]);
  await app.publish(f.Step, { orderId: 'cursed', seq: 0, amount: 13 });
  await app.publish(f.Step, { orderId: 'cursed', seq: 1, amount: 5 });
  await good(1);
  await good(2);

  await f.waitFor('31 effects and 4 dead letters', async () => (await f.effects()).length >= 31 && (await app.deadLetters({ group })).length >= 4);
  const letters = await app.deadLetters({ group });
  const byKey = new Map(letters.map((l) => [l.key, l]));
  expect(letters).toHaveLength(4);
  expect(byKey.get('bad-schema')).toMatchObject({ reason: 'schema-violation', envelope: invalid, eventType: 'OrderStep', status: 'dead', policy: 'skip' });
  expect(byKey.get('mystery')).toMatchObject({ reason: 'unknown-event-type', envelope: unknown, eventType: 'OrderTeleported', status: 'dead' });
  expect(byKey.get('garbage')).toMatchObject({ reason: 'malformed-envelope', envelope: malformed, eventId: null, eventType: null, status: 'dead' });
  expect(byKey.get('cursed')).toMatchObject({ reason: 'handler-failed', eventType: 'OrderStep', attempts: 2, status: 'dead', topic: f.topic });
  expect(byKey.get('cursed')!.error.message).toContain('unlucky amount');
  // the cause chain is kept, as data the store holds
  expect(byKey.get('cursed')!.error.cause).toEqual({ name: 'Error', message: 'card declined', code: 'E_DECLINED', cause: { name: 'string', message: '"issuer said no"' } });
  const effects = counts(await f.effects());
  expect(effects.get('cursed:1'), 'the failing key flows on (skip)').toBe(1);
  for (const i of range(10)) for (const seq of range(3)) expect(effects.get(`good-${i}:${seq}`), `good-${i}:${seq}`).toBe(1);
}

/**
 * Policy park-key: the key's first event fails for good, its next two are parked unprocessed while
 * another key flows; after the handler is fixed, a redrive applies all three in order, and the
 * key flows again.
 */
export async function parksKeyUntilRedrive<Tx>(f: PipelineFixture<Tx>): Promise<void> {
  const group = f.group('shipping');
  let broken = true;
  const handled: StepData[] = [];
  const app = f.app().on(f.Step, { group, deadLetter: 'park-key' }, async (event, ctx) => {
    if (broken && event.data.amount === 13) throw new Error('carrier unavailable');
    await f.harness.writeEffect(ctx.tx, effectId(event.data));
    handled.push(event.data);
  });
  await app.start();
  await app.publish(f.Step, { orderId: 'parked', seq: 0, amount: 13 });
  for (const seq of [1, 2]) await app.publish(f.Step, { orderId: 'parked', seq });
  for (const seq of range(3)) await app.publish(f.Step, { orderId: 'free', seq });

  await f.waitFor('3 letters of the parked key, 3 effects of the free one', async () => (await app.deadLetters({ group })).length >= 3 && (await f.effects()).length >= 3);
  const letters = await app.deadLetters({ group, key: 'parked' });
  expect(letters.map((l) => [l.status, l.reason])).toEqual([['dead', 'handler-failed'], ['parked', 'parked-behind-key'], ['parked', 'parked-behind-key']]);
  expect((await f.effects()).sort()).toEqual(['free:0', 'free:1', 'free:2']);
  expect(await app.stores.deadLetters.isKeyParked(group, f.topic, 'parked')).toBe(true);

  broken = false;
  expect(await app.redrive({ group })).toEqual({ redriven: 3, failed: 0, stillParked: 0 });
  expect(handled.filter((d) => d.orderId === 'parked').map((d) => d.seq), 'redriven in order').toEqual([0, 1, 2]);
  expect((await app.deadLetters({ group })).map((l) => l.status)).toEqual(['redriven', 'redriven', 'redriven']);
  await app.publish(f.Step, { orderId: 'parked', seq: 3 });
  await f.waitFor('the key to flow again', async () => (await f.effects()).includes('parked:3'));
  const effects = counts(await f.effects());
  for (const seq of range(4)) expect(effects.get(`parked:${seq}`), `parked:${seq}`).toBe(1);
}

/**
 * A dead letter redriven by two redrives at once, then again after its status was lost (as if a
 * redrive died between applying and marking), is applied exactly once.
 */
export async function redrivesOnce<Tx>(f: PipelineFixture<Tx>): Promise<void> {
  const group = f.group('billing');
  let broken = true;
  const app = f.app().on(f.Step, { group }, async (event, ctx) => {
    if (broken) throw new Error('payment provider down');
    await f.harness.writeEffect(ctx.tx, effectId(event.data));
  });
  await app.start();
  await app.publish(f.Step, { orderId: 'invoice-1', seq: 0 });
  await f.waitFor('the dead letter', async () => (await app.deadLetters({ group })).length === 1);
  expect(await f.effects()).toEqual([]);

  broken = false;
  const [a, b] = await Promise.all([app.redrive({ group }), app.redrive({ group })]);
  expect(a.failed + b.failed).toBe(0);
  expect(a.redriven + b.redriven).toBeGreaterThanOrEqual(1);
  const [letter] = await app.deadLetters({ group });
  expect(letter!.status).toBe('redriven');
  await app.stores.deadLetters.setStatus([letter!.id], 'dead');
  expect(await app.redrive({ group })).toEqual({ redriven: 1, failed: 0, stillParked: 0 });
  expect(await f.effects()).toEqual(['invoice-1:0']);
}
