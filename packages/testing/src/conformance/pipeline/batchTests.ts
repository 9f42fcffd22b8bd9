import { encodeEnvelope, type Envelope } from '@herald/core';
import { expect } from 'vitest';
import { counts, effectId, type PipelineFixture, type StepData } from './fixture.js';

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/**
 * A batch handler gets the ready events together: 8 keys × 10 events published before the group
 * starts arrive in batches (calls of more than one event), each in one transaction. A batch
 * holding a poison event fails, so its events go one by one through the full pipeline: the poison
 * one is retried and dead-lettered alone, every other event applied once, per key in order. An
 * event delivered again (its wire value republished) is left out of the next batch by the inbox.
 */
export async function handlesBatches<Tx>(f: PipelineFixture<Tx>): Promise<void> {
  const group = f.group('batches');
  const sizes: number[] = [];
  const applied = new Map<string, number[]>();
  const app = f.app().onBatch(f.Step, { group }, async (events, ctx) => {
    sizes.push(events.length);
    if (events.some((e) => e.data.amount === 13)) throw new Error('a poison event in the batch');
    for (const event of events) await f.harness.writeEffect(ctx.tx, effectId(event.data));
    // only calls holding the poison event fail: every other call commits, in this order
    for (const { data } of events) applied.set(data.orderId, [...(applied.get(data.orderId) ?? []), data.seq]);
  });
  const keys = range(8).map((i) => `order-${i}`);
  const first: Envelope<StepData>[] = [];
  for (const seq of range(10)) {
    first.push(...(await app.publish.many(f.Step, keys.map((orderId) => ({ orderId, seq, ...(orderId === 'order-3' && seq === 4 ? { amount: 13 } : {}) })))));
  }
  await app.start();
  await f.waitFor('79 effects and one dead letter', async () => (await f.effects()).length >= 79 && (await app.deadLetters({ group })).length >= 1);
  const again = first.find((e) => e.data.orderId === 'order-0' && e.data.seq === 0)!;
  await f.harness.broker.publish([{ topic: f.topic, key: again.key, value: encodeEnvelope(again) }]);
  await app.publish(f.Step, { orderId: 'order-0', seq: 10 });
  await f.waitFor('the effect after the redelivered event', async () => counts(await f.effects()).has('order-0:10'));

  const effects = counts(await f.effects());
  for (const [orderId, seqs] of applied) {
    const inOrder = seqs.filter((seq, i) => seqs.indexOf(seq) === i); // the redelivered event is skipped, not re-applied
    expect(inOrder, `${orderId} applied in order`).toEqual([...inOrder].sort((a, b) => a - b));
  }
  for (const orderId of keys) {
    for (const seq of range(10)) {
      const poison = orderId === 'order-3' && seq === 4;
      expect(effects.get(`${orderId}:${seq}`), `${orderId}:${seq}`).toBe(poison ? undefined : 1);
    }
  }
  expect(effects.get('order-0:10')).toBe(1);
  const letters = await app.deadLetters({ group });
  expect(letters).toHaveLength(1);
  expect(letters[0]).toMatchObject({ key: 'order-3', reason: 'handler-failed', attempts: 2, status: 'dead' });
  expect(Math.max(...sizes), 'events arrived in batches').toBeGreaterThan(1);
  expect(sizes.filter((n) => n === 1).length, 'the failed batch went one by one').toBeGreaterThan(0);
}

/**
 * An append retried with the same id (what `publishDirect` asks after a failed call) puts one
 * event on the log twice. Appended before the group starts, both copies and the events around
 * them arrive together: the batch handler gets the event once, at its first delivery, and the
 * second copy is reported as a duplicate.
 */
export async function appliesRepeatedAppendOnce<Tx>(f: PipelineFixture<Tx>): Promise<void> {
  const group = f.group('repeats');
  const seen: number[] = [];
  const app = f.app().onBatch(f.Step, { group }, async (events) => {
    for (const event of events) seen.push(event.data.seq);
  });
  const facts = f.record(app);
  const id = '0190a9a4-6b1e-7c3d-8e2f-1a2b3c4d5e6f';
  await app.publishDirect(f.Step, { orderId: 'order-r', seq: 0 }, { id });
  await app.publishDirect(f.Step, { orderId: 'order-r', seq: 1 });
  await app.publishDirect(f.Step, { orderId: 'order-r', seq: 0 }, { id });
  await app.publishDirect(f.Step, { orderId: 'order-r', seq: 2 });
  await app.start();
  const handled = () => facts.flatMap((fact) => (fact.kind === 'handled' && fact.group === group ? [fact] : []));
  // facts come once a batch committed: the four deliveries' facts mean the copy was handled
  await f.waitFor('the four deliveries handled', async () => handled().length >= 4);
  expect(seen).toEqual([0, 1, 2]);
  const outcomes = handled().flatMap((fact) => (fact.eventId === id ? [fact.outcome] : []));
  // a redelivery (a rebalance) would only add duplicates
  expect(outcomes.slice(0, 2)).toEqual(['applied', 'duplicate']);
  expect(outcomes.filter((o) => o === 'applied')).toHaveLength(1);
}

/**
 * A batch handler's first call writes an effect, then hangs ignoring its signal: at the batch's
 * timeout its transaction rolls back at once, the events are handled again (one by one, as after
 * any failed batch) and applied once each; the abandoned call's writes, before and after the
 * timeout, never commit (its late write is refused).
 */
export async function abandonsTimedOutBatches<Tx>(f: PipelineFixture<Tx>): Promise<void> {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let calls = 0;
  let lateWrite: Promise<unknown> | undefined;
  const app = f.app().onBatch(f.Step, { group: f.group('abandon-batch'), timeoutMs: 300, retry: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 5 } }, async (events, ctx) => {
    if (++calls === 1) {
      await f.harness.writeEffect(ctx.tx, 'batch:abandoned');
      await released; // ignores ctx.signal
      lateWrite = f.harness.writeEffect(ctx.tx, 'batch:late').then(() => 'written', (error: unknown) => error);
      return;
    }
    for (const event of events) await f.harness.writeEffect(ctx.tx, effectId(event.data));
  });
  await app.publish.many(f.Step, range(3).map((i) => ({ orderId: `order-${i}`, seq: 0 })));
  await app.start();
  await f.waitFor('the three events applied after the hung call', async () => (await f.effects()).length >= 3);
  release();
  await f.waitFor('the abandoned call to try its late write', () => lateWrite !== undefined);
  expect(await lateWrite!, 'a write after the timeout is refused').toBeInstanceOf(Error);
  expect([...(await f.effects())].sort()).toEqual(['order-0:0', 'order-1:0', 'order-2:0']);
}
