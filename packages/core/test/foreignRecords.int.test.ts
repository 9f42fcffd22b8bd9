import { Type } from '@sinclair/typebox';
import { afterEach, describe, expect, it } from 'vitest';
import { defineEvent, REDRIVE_HEADERS, uuidv7, type DeadLetter } from '@herald/core';
import { closeApps, newApp, Step } from './appFixture.js';
import { eventually } from './support.js';

// Records a producer other than Herald wrote to a topic Herald's groups read: a bridge, a script,
// a service in another language. Each must end as an applied event or a stored dead letter,
// never silently dropped, ignored, or let past a key's dead letter.

afterEach(closeApps);

/** A Step envelope as a foreign producer writes it; JSON.stringify escapes U+0000 and lone surrogates, as other writers do. */
const wire = (seq: number, over: Record<string, unknown> = {}) =>
  JSON.stringify({ id: uuidv7(), type: 'Step', version: 1, topic: 'steps', key: 'k', correlationId: 'c', causationId: null, occurredAt: new Date().toISOString(), data: { key: 'k', seq }, ...over });

/** The app with group `worker` applying each Step's seq (refusing one with `fail`), and what it applied. */
async function worker(options: { deadLetter?: 'skip' | 'park-key'; batch?: boolean } = {}) {
  const h = newApp({ deadLetter: options.deadLetter ?? 'skip' });
  const applied: number[] = [];
  if (options.batch) {
    h.app.onBatch(Step, { group: 'worker' }, async (events) => {
      for (const event of events) if (event.data.fail) throw new Error(`step ${event.data.seq} refused`);
      applied.push(...events.map((e) => e.data.seq));
    });
  } else {
    h.app.on(Step, { group: 'worker' }, async (event) => {
      if (event.data.fail) throw new Error(`step ${event.data.seq} refused`);
      applied.push(event.data.seq);
    });
  }
  return { ...h, applied };
}

const lettersOf = async (h: Awaited<ReturnType<typeof worker>>, reason: string): Promise<DeadLetter[]> => (await h.app.deadLetters()).filter((l) => l.reason === reason);

describe('a foreign record whose text no store keeps', () => {
  it('is a malformed envelope when a field holds U+0000 or a lone surrogate, its letter naming the field and storable', async () => {
    const h = await worker();
    await h.app.start();
    await h.broker.publish(
      [
        wire(1, { id: 'a\u0000b' }),
        wire(2, { type: 'Step\u0000' }),
        wire(3, { key: 'k\u0000' }),
        wire(4, { correlationId: 'c\udc00' }),
        wire(5, { causationId: 'x\u0000' }),
        // two events PostgreSQL's inbox would both have taken as `dup\uFFFD`: the second dropped as a duplicate
        wire(6, { id: 'dup\ud800' }),
        wire(7, { id: 'dup\ud801' }),
        wire(8),
      ].map((value) => ({ topic: 'steps', key: 'k', value })),
    );
    await eventually(async () => h.applied.includes(8) && (await h.app.deadLetters()).length === 7, 'seq 8 applied and seven letters');
    expect(h.applied).toEqual([8]);
    const letters = await h.app.deadLetters();
    expect(letters.map((l) => [l.reason, l.eventId, l.eventType, l.handler])).toEqual(Array(7).fill(['malformed-envelope', null, null, 'worker:unreadable']));
    expect(letters.map((l) => l.error.message)).toEqual([
      'malformed envelope: field "id" must not contain U+0000 (NUL)',
      'malformed envelope: field "type" must not contain U+0000 (NUL)',
      'malformed envelope: field "key" must not contain U+0000 (NUL)',
      'malformed envelope: field "correlationId" must not contain a lone UTF-16 surrogate',
      'malformed envelope: field "causationId" must not contain U+0000 (NUL)',
      'malformed envelope: field "id" must not contain a lone UTF-16 surrogate',
      'malformed envelope: field "id" must not contain a lone UTF-16 surrogate',
    ]);
  });

  it('is a schema violation naming where when its data holds one, refused before the handler; a group not handling its type records nothing', async () => {
    const h = await worker();
    // a second group reading the same topic for another type: the Steps are none of its business
    const Other = defineEvent({ type: 'Other', topic: 'steps', key: (d) => d.key, schema: Type.Object({ key: Type.String() }) });
    h.app.on(Other, { group: 'audit' }, async () => {});
    await h.app.start();
    const nul = wire(1, { data: { key: 'a\u0000b', seq: 1 } });
    const surrogateName = wire(2, { data: { key: 'k', seq: 2, ['note\udbff']: 'x' } });
    // escaped text every store keeps: an ASCII-only writer's accent and emoji (a whole pair)
    const escaped = wire(3, { data: { key: 'caf\u00e9 \u{1F600}', seq: 3 } }).replace('\u00e9', '\\u00e9').replace('\u{1F600}', '\\ud83d\\ude00');
    expect(escaped).toContain('caf\\u00e9 \\ud83d\\ude00');
    await h.broker.publish([nul, surrogateName, escaped, wire(4)].map((value) => ({ topic: 'steps', key: 'k', value })));
    await eventually(async () => h.applied.includes(4) && (await h.app.deadLetters()).length === 2, 'seq 4 applied and two letters');
    expect(h.applied).toEqual([3, 4]);
    const letters = await h.app.deadLetters();
    expect(letters.map((l) => [l.group, l.reason, l.eventId, l.eventType, l.handler])).toEqual([
      ['worker', 'schema-violation', JSON.parse(nul).id, 'Step', 'worker:Step'],
      ['worker', 'schema-violation', JSON.parse(surrogateName).id, 'Step', 'worker:Step'],
    ]);
    expect(letters.map((l) => l.error.details)).toEqual([
      { issues: [{ path: '/key', message: 'must not contain U+0000 (NUL)' }] },
      { issues: [{ path: '/note\udbff', message: 'its name must not contain a lone UTF-16 surrogate' }] },
    ]);
    expect(letters[0]!.error.message).toBe('Step does not match its schema: /key must not contain U+0000 (NUL)');
  });
});

describe('a foreign record carrying some of the redrive headers', () => {
  it('is an ordinary event unless it carries every one, well formed: handled, and settling no letter', async () => {
    const h = await worker();
    await h.app.start();
    await h.broker.publish([{ topic: 'steps', key: 'k', value: wire(1, { data: { key: 'k', seq: 1, fail: 1 } }) }]);
    await eventually(async () => (await h.app.deadLetters()).length === 1, 'seq 1 dead-lettered');
    const [letter] = await h.app.deadLetters();
    const { group, letter: letterHeader, run } = REDRIVE_HEADERS;
    const records: { value: string; headers?: Record<string, string> }[] = [
      // a bridge copied one header of Herald's name: taken for a redrive to "other", it was ignored here, silently
      { value: wire(2), headers: { [group]: 'other' } },
      // this group and a real letter, but no run: not a redrive, so the letter stays dead
      { value: wire(3), headers: { [group]: 'worker', [letterHeader]: letter!.id } },
      { value: wire(4), headers: { [group]: 'other', [letterHeader]: 'not-a-letter-id', [run]: 'r1' } },
      // what `herald dlq redrive` appends for group "other": not this group's
      { value: wire(5), headers: { [group]: 'other', [letterHeader]: uuidv7(), [run]: 'r1' } },
      { value: wire(6) },
    ];
    await h.broker.publish(records.map((record) => ({ topic: 'steps', key: 'k', ...record })));
    await eventually(() => h.applied.includes(6), 'seq 6 applied');
    expect(h.applied).toEqual([2, 3, 4, 6]);
    expect((await h.app.deadLetters()).map((l) => [l.id, l.status])).toEqual([[letter!.id, 'dead']]);
  });
});

describe('a foreign record whose key differs from its envelope', () => {
  it('parks behind its key with a batch handler when the key holds U+0000, and the parked letter names the record key', async () => {
    const h = await worker({ deadLetter: 'park-key', batch: true });
    await h.app.start();
    // a key Kafka carries as bytes (a Java LongSerializer's is mostly zeros); the envelope's is text
    const key = 'a\u0000b';
    await h.broker.publish([{ topic: 'steps', key, value: wire(1, { key: 'a-b', data: { key: 'a-b', seq: 1, fail: 1 } }) }]);
    await eventually(async () => (await lettersOf(h, 'handler-failed')).length === 1, 'seq 1 dead-lettered');
    await h.broker.publish([{ topic: 'steps', key, value: wire(2, { key: 'a-b', data: { key: 'a-b', seq: 2 } }) }]);
    await eventually(async () => (await lettersOf(h, 'parked-behind-key')).length === 1, 'seq 2 parked');
    expect(h.applied).toEqual([]);
    const [parked] = await lettersOf(h, 'parked-behind-key');
    expect([parked!.key, parked!.status, parked!.error.message]).toEqual([key, 'parked', 'parked behind an earlier dead letter of key "a\u0000b"']);
  });

  it('names the record key, which parking goes by, in the parked letter', async () => {
    const h = await worker({ deadLetter: 'park-key' });
    await h.app.start();
    await h.broker.publish([
      { topic: 'steps', key: 'record-key', value: wire(1, { key: 'envelope-key', data: { key: 'envelope-key', seq: 1, fail: 1 } }) },
      { topic: 'steps', key: 'record-key', value: wire(2, { key: 'envelope-key', data: { key: 'envelope-key', seq: 2 } }) },
    ]);
    await eventually(async () => (await lettersOf(h, 'parked-behind-key')).length === 1, 'seq 2 parked');
    const [parked] = await lettersOf(h, 'parked-behind-key');
    expect([parked!.key, parked!.error.message]).toEqual(['record-key', 'parked behind an earlier dead letter of key "record-key"']);
  });
});
