import { expect } from 'vitest';
import { effectId, type PipelineFixture } from './fixture.js';

/**
 * Envelopes another producer wrote with text no store keeps (U+0000, a lone surrogate), escaped
 * in their JSON as any writer escapes them: in an id, two ids that differ only in a lone
 * surrogate, and in `data`. Each ends as a dead letter the stores keep (a malformed envelope
 * without an event id; a schema violation with its id), none reaches the handler, and the key's
 * next event is handled. On PostgreSQL a NUL in the inbox mark made the letter unwritable too
 * (the partition retried for ever), and both surrogate ids became the same `dup\uFFFD` there (the
 * second event dropped as a duplicate).
 */
export async function deadLettersUnstorableText<Tx>(f: PipelineFixture<Tx>): Promise<void> {
  const group = f.group('ledger');
  const app = f.app().on(f.Step, { group }, async (event, ctx) => {
    await f.harness.writeEffect(ctx.tx, effectId(event.data));
  });
  await app.start();
  const key = 'foreign';
  const wire = (seq: number, over: Record<string, unknown> = {}) => JSON.stringify({ ...(JSON.parse(f.envelope('OrderStep', key, { orderId: key, seq })) as object), ...over });
  const badData = wire(3, { data: { orderId: 'nul\u0000', seq: 3 } });
  await f.harness.broker.publish(
    [wire(0, { id: 'a\u0000b' }), wire(1, { id: 'dup\ud800' }), wire(2, { id: 'dup\ud801' }), badData, wire(4)].map((value) => ({ topic: f.topic, key, value })),
  );

  await f.waitFor("the key's next event handled and four dead letters", async () => (await f.effects()).includes(`${key}:4`) && (await app.deadLetters({ group })).length >= 4);
  expect(await f.effects()).toEqual([`${key}:4`]);
  const letters = [...(await app.deadLetters({ group }))].sort((a, b) => a.offset - b.offset);
  expect(letters.map((l) => [l.reason, l.eventId, l.eventType, l.error.message])).toEqual([
    ['malformed-envelope', null, null, 'malformed envelope: field "id" must not contain U+0000 (NUL)'],
    ['malformed-envelope', null, null, 'malformed envelope: field "id" must not contain a lone UTF-16 surrogate'],
    ['malformed-envelope', null, null, 'malformed envelope: field "id" must not contain a lone UTF-16 surrogate'],
    ['schema-violation', JSON.parse(badData).id, 'OrderStep', 'OrderStep does not match its schema: /orderId must not contain U+0000 (NUL)'],
  ]);
  // the letters keep the values as they came, escapes and all
  expect(letters[3]!.envelope).toBe(badData);
}
