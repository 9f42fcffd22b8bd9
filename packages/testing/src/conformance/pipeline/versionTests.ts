import { Type } from '@sinclair/typebox';
import { expect } from 'vitest';
import { defineEvent } from '@herald/core';
import type { PipelineFixture } from './fixture.js';

/**
 * Schema evolution through the whole pipeline: a handler of version 2 gets the version 1 events of
 * producers not yet upgraded upcast, and its own version as published; an upcast that throws, and
 * a version 3 from a producer upgraded before the consumer, are dead letters (`upcast-failed`,
 * `unknown-event-type`) holding their original wire value, while the key's later events flow on.
 * Once a consumer that reads version 3 is deployed, a redrive applies that letter.
 */
export async function readsEarlierVersions<Tx>(f: PipelineFixture<Tx>): Promise<void> {
  const group = f.group('versions');
  const V2Schema = Type.Object({ orderId: Type.String(), seq: Type.Integer({ minimum: 0 }), amount: Type.Integer({ minimum: 0 }), currency: Type.String() });
  const StepV2 = defineEvent({
    type: f.Step.type,
    version: 2,
    topic: f.topic,
    key: (d) => d.orderId,
    schema: V2Schema,
    upcast: {
      from: f.Step,
      data: (v1) => {
        if (v1.orderId === 'unpriced') throw new Error(`no currency is known for ${v1.orderId}`);
        return { orderId: v1.orderId, seq: v1.seq, amount: v1.amount ?? 0, currency: 'EUR' };
      },
    },
  });
  const handled: string[] = [];
  const app = f.app().on(StepV2, { group }, async (event, ctx) => {
    const id = `${event.data.orderId}:${event.data.seq}:${event.version}:${event.data.currency}`;
    await f.harness.writeEffect(ctx.tx, id);
    handled.push(id);
  });
  const facts = f.record(app);
  await app.start();
  await app.publish(f.Step, { orderId: 'a', seq: 0, amount: 5 });
  await app.publish(StepV2, { orderId: 'a', seq: 1, amount: 7, currency: 'USD' });
  const newer = f.envelope(f.Step.type, 'a', { orderId: 'a', seq: 2, cents: 900 }, 3);
  await f.harness.broker.publish([{ topic: f.topic, key: 'a', value: newer }]);
  await app.publish(f.Step, { orderId: 'a', seq: 3 });
  await app.publish(f.Step, { orderId: 'unpriced', seq: 0, amount: 1 });

  await f.waitFor('3 effects and 2 dead letters', async () => (await f.effects()).length >= 3 && (await app.deadLetters({ group })).length >= 2);
  expect(handled, 'in key order, every version read as 2').toEqual(['a:0:2:EUR', 'a:1:2:USD', 'a:3:2:EUR']);
  // each event read through the upcast is a fact (what metrics count): the failed upcast is not one
  const upcast = { kind: 'upcast', group, eventType: f.Step.type, fromVersion: 1, toVersion: 2 };
  expect(facts.filter((fact) => fact.kind === 'upcast')).toEqual([upcast, upcast]);
  const letters = await app.deadLetters({ group });
  const byKey = new Map(letters.map((l) => [l.key, l]));
  expect(letters).toHaveLength(2);
  expect(byKey.get('a')).toMatchObject({ reason: 'unknown-event-type', envelope: newer, eventType: f.Step.type, status: 'dead' });
  expect(byKey.get('a')!.error.message).toBe(`version 3 of ${f.Step.type} is newer than this consumer reads (version 2): deploy a consumer that defines it, then redrive`);
  expect(byKey.get('unpriced')).toMatchObject({ reason: 'upcast-failed', eventType: f.Step.type, status: 'dead' });
  expect(byKey.get('unpriced')!.error.message).toBe(`${f.Step.type} upcast from version 1 to 2 threw: no currency is known for unpriced`);
  expect(JSON.parse(byKey.get('unpriced')!.envelope!)).toMatchObject({ version: 1, data: { orderId: 'unpriced', seq: 0, amount: 1 } });
  await app.close();

  // the consumer that reads version 3 (cents instead of amount) is deployed, and the letter redriven
  const StepV3 = defineEvent({
    type: f.Step.type,
    version: 3,
    topic: f.topic,
    key: (d) => d.orderId,
    schema: Type.Object({ orderId: Type.String(), seq: Type.Integer({ minimum: 0 }), cents: Type.Integer({ minimum: 0 }) }),
    upcast: { from: StepV2, data: (v2) => ({ orderId: v2.orderId, seq: v2.seq, cents: v2.amount }) },
  });
  const upgraded = f.app().on(StepV3, { group }, async (event, ctx) => {
    const id = `${event.data.orderId}:${event.data.seq}:${event.version}:${event.data.cents}`;
    await f.harness.writeEffect(ctx.tx, id);
    handled.push(id);
  });
  await upgraded.start();
  expect(await upgraded.redrive({ group, key: 'a' })).toEqual({ redriven: 1, failed: 0, stillParked: 0 });
  expect(handled.at(-1)).toBe('a:2:3:900');
  expect((await upgraded.deadLetters({ group, key: 'a' })).map((l) => l.status)).toEqual(['redriven']);
}
