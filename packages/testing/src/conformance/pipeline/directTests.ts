import { decodeEnvelope, encodeEnvelopeValue, isHeraldError } from '@herald/core';
import { expect } from 'vitest';
import { counts, effectId, type PipelineFixture } from './fixture.js';

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/**
 * `publishDirect` appends to the log itself: an app that never runs a relay publishes, and once
 * the call returned the records are on the log (a raw subscription reads them: the wire value is
 * the returned envelope, with its key and headers) while the outbox holds nothing. `.many` keeps
 * each key's order; invalid or oversized data is refused before anything is appended; the app
 * reports what it published; a consumer group applies every event once.
 */
export async function publishesDirectly<Tx>(f: PipelineFixture<Tx>): Promise<void> {
  const producer = f.app();
  const facts = f.record(producer);
  const probe = await f.probe(f.group('direct-probe'));
  const headers = { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' };

  const single = await producer.publishDirect(f.Step, { orderId: 'order-0', seq: 0 }, { headers });
  const keys = range(4).map((i) => `order-${i}`);
  const many = await producer.publishDirect.many(f.Step, range(5).flatMap((seq) => keys.map((orderId) => ({ orderId, seq: seq + 1 }))));
  expect(many).toHaveLength(20);

  const invalid = await producer.publishDirect(f.Step, { orderId: 'order-0', seq: -1 }).catch((error: unknown) => error);
  expect(isHeraldError(invalid) && invalid.code, 'invalid data refused').toBe('schema-violation');
  const tooLarge = await producer.publishDirect(f.Step, { orderId: 'x'.repeat(2 * 1024 * 1024), seq: 0 }).catch((error: unknown) => error);
  expect(isHeraldError(tooLarge) && tooLarge.code, 'oversized event refused').toBe('event-too-large');
  const halfInvalid = await producer.publishDirect.many(f.Step, [{ orderId: 'order-9', seq: 0 }, { orderId: 'order-9', seq: -1 }]).catch((error: unknown) => error);
  expect(isHeraldError(halfInvalid) && halfInvalid.code, 'one invalid item refuses the call').toBe('schema-violation');

  const scheduled = await producer.publishDirect.schedule(f.Step, { orderId: 'order-8', seq: 0 }, { afterMs: 10 }).catch((error: unknown) => error);
  expect(isHeraldError(scheduled) && scheduled.code, 'no timers without a transaction').toBe('invalid-options');

  await f.waitFor('21 records on the log', () => probe.length >= 21);
  const first = probe.find((d) => d.key === 'order-0' && JSON.parse(d.value).data.seq === 0)!;
  expect(first.value, 'the wire value is the returned envelope, its headers beside it').toBe(encodeEnvelopeValue(single));
  expect(first.headers).toMatchObject(headers);
  expect(decodeEnvelope(first.value, first.headers), 'read back with its record headers').toEqual(single);
  for (const orderId of keys) {
    const seqs = probe.filter((d) => d.key === orderId).map((d) => (JSON.parse(d.value) as { data: { seq: number } }).data.seq);
    expect(seqs, `${orderId} in publish order`).toEqual(orderId === 'order-0' ? [0, 1, 2, 3, 4, 5] : [1, 2, 3, 4, 5]);
  }
  expect(probe.some((d) => d.key === 'order-9'), 'nothing of a refused call appended').toBe(false);
  expect(await f.harness.stores.outbox.findByCorrelation(single.correlationId), 'nothing in the outbox').toEqual([]);
  const published = facts.flatMap((e) => (e.kind === 'published' ? [e.count] : []));
  expect(published.reduce((a, b) => a + b, 0), 'published facts').toBe(21);

  const consumer = f.app().on(f.Step, { group: f.group('direct') }, async (event, ctx) => f.harness.writeEffect(ctx.tx, effectId(event.data)));
  await consumer.start();
  await f.waitFor('21 effects', async () => (await f.effects()).length >= 21);
  expect([...counts(await f.effects()).values()].every((n) => n === 1), 'each applied once').toBe(true);
}
