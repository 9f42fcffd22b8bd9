import { Type } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { createInstrumentation, createManualClock, decodeEnvelope, defineEvent, encodeEnvelopeValue, uuidv7, type Envelope, type EventDefinition, type OutboxRecord, type OutboxStore, type PublishOptions } from '@herald/core';
import { createDirectPublisher } from '../src/app/directPublisher.js';
import { bindPublisher, buildEnvelope } from '../src/pipeline/publisher.js';

const T0 = Date.UTC(2026, 0, 1);
const clock = createManualClock(T0);
const Step = defineEvent({ type: 'Step', topic: 'steps', key: (d) => d.key, schema: Type.Object({ key: Type.String(), seq: Type.Integer() }) });
const data = { key: 'k', seq: 1 };
const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
const cause = buildEnvelope(clock, Step, data, { correlationId: 'c-1', headers: { traceparent } }, undefined);

/** Builds a Step with options a JavaScript caller (or a cast) could pass, its cause from them as `publish` does. */
const build = (options: Record<string, unknown>) => buildEnvelope(clock, Step, data, options as PublishOptions, options.cause as Envelope | undefined);

describe('buildEnvelope refuses at publish what decodeEnvelope would refuse', () => {
  it.each<[string, Record<string, unknown>, string]>([
    ['an empty correlationId', { correlationId: '' }, 'field "correlationId" must be a non-empty string'],
    ['a correlationId that is no string', { correlationId: 7 }, 'field "correlationId" must be a non-empty string'],
    ['a cause with an empty correlationId', { cause: { ...cause, correlationId: '' } }, 'field "correlationId" must be a non-empty string'],
    ['a causationId that is neither a string nor null', { causationId: 5 }, 'field "causationId" must be a string or null'],
    ['an id that is no string, though it prints as a UUID', { id: { toString: () => uuidv7() } }, 'is not a UUID'],
    ['an empty key', { key: '' }, 'key must be a non-empty string'],
    ['a key that is no string', { key: 5 }, 'key must be a non-empty string'],
    ['a key holding U+0000', { key: 'a\u0000b' }, 'field "key" must not contain U+0000 (NUL)'],
    ['a key holding a lone surrogate', { key: 'caf\ud83d' }, 'field "key" must not contain a lone UTF-16 surrogate'],
    ['a correlationId holding U+0000', { correlationId: 'c\u0000' }, 'field "correlationId" must not contain U+0000 (NUL)'],
    ['a causationId holding a lone surrogate', { causationId: '\udc00' }, 'field "causationId" must not contain a lone UTF-16 surrogate'],
    ['an invalid occurredAt', { occurredAt: new Date(Number.NaN) }, 'occurredAt must be a valid Date'],
    ['an occurredAt beyond the range of a Date', { occurredAt: new Date(1e16) }, 'occurredAt must be a valid Date'],
    ['an occurredAt that is no Date', { occurredAt: '2026-01-01T00:00:00.000Z' }, 'occurredAt must be a valid Date'],
    ['a header value that is a number', { headers: { attempt: 1 } }, 'header "attempt" must be a string, got number'],
    ['a header value that is null', { headers: { note: null } }, 'header "note" must be a string, got null'],
    ['a cause carrying a trace header that is no string', { cause: { ...cause, headers: { traceparent: 5 } } }, 'header "traceparent" must be a string'],
    ['headers that are a string', { headers: 'ab' }, 'headers must be an object'],
    ['headers that are an array', { headers: ['a'] }, 'headers must be an object'],
    ['a header named by a symbol', { headers: { [Symbol('name')]: 'v' } }, 'headers must be an object of string names'],
  ])('refuses %s with invalid-options', (_, options, message) => {
    expect(() => build(options)).toThrow(expect.objectContaining({ code: 'invalid-options', message: expect.stringContaining(message) }));
  });

  it('refuses data the wire cannot carry and a definition whose envelope consumers would refuse', () => {
    const Anything = defineEvent({ type: 'Anything', topic: 'things', key: () => 'k', schema: Type.Unknown() });
    expect(() => buildEnvelope(clock, Anything, undefined, {}, undefined)).toThrow(expect.objectContaining({ code: 'invalid-options', message: expect.stringContaining('"data" is missing') }));
    const handMade: EventDefinition = { ...Anything, topic: '' };
    expect(() => buildEnvelope(clock, handMade, 1, {}, undefined)).toThrow(expect.objectContaining({ code: 'invalid-options', message: expect.stringContaining('"topic"') }));
  });

  it('builds only envelopes that decode back to themselves, at the edges of what is allowed', () => {
    const edges: Record<string, unknown>[] = [
      {},
      { causationId: '' },
      { causationId: null, correlationId: 'c', headers: {} },
      { cause, headers: { tracestate: 'a=1' } },
      { occurredAt: new Date(-8.64e15) }, // year -271821: a signed six-digit year
      { occurredAt: new Date(8.64e15) }, // year +275760
      { occurredAt: new Date(Date.UTC(2028, 1, 29, 23, 59, 59, 999)) },
    ];
    for (const options of edges) {
      const envelope = build(options);
      expect(decodeEnvelope(encodeEnvelopeValue(envelope), envelope.headers), JSON.stringify(options)).toEqual(envelope);
    }
  });
});

describe('bindPublisher', () => {
  it('refuses an id for publish.many: every event of the call would share it, and inboxes would drop all but one', async () => {
    const appended: OutboxRecord[] = [];
    const outbox = { append: async (_tx: unknown, records: readonly OutboxRecord[]) => void appended.push(...records) } as unknown as OutboxStore<unknown>;
    const { publish } = bindPublisher({ outbox, clock, maxEventBytes: 1024 * 1024, instrumentation: createInstrumentation() }, undefined);
    const id = uuidv7();
    await expect(publish.many(Step, [data, { key: 'k', seq: 2 }], { id } as never)).rejects.toMatchObject({ code: 'invalid-options', message: expect.stringContaining('id') });
    expect(appended).toEqual([]);
    await publish.many(Step, [data, { key: 'k', seq: 2 }]);
    expect(new Set(appended.map((r) => r.id)).size).toBe(2);
  });
});

describe('publishing data no store keeps', () => {
  const Note = defineEvent({ type: 'Note', topic: 'notes', key: () => 'k', schema: Type.Object({ text: Type.String(), tags: Type.Record(Type.String(), Type.String()) }) });

  it('refuses U+0000 and lone surrogates in data with schema-violation naming where, through the outbox and directly; other escapes pass', async () => {
    const appended: OutboxRecord[] = [];
    const outbox = { append: async (_tx: unknown, records: readonly OutboxRecord[]) => void appended.push(...records) } as unknown as OutboxStore<unknown>;
    const { publish } = bindPublisher({ outbox, clock, maxEventBytes: 1024 * 1024, instrumentation: createInstrumentation() }, undefined);
    const sent: unknown[] = [];
    const publishDirect = createDirectPublisher({ broker: { publish: async (records: readonly unknown[]) => void sent.push(...records) } as never, clock, instrumentation: createInstrumentation(), maxEventBytes: 1024 * 1024, closed: new AbortController().signal });
    for (const send of [publish, publishDirect]) {
      await expect(send(Note, { text: 'a\u0000b', tags: {} })).rejects.toMatchObject({ code: 'schema-violation', details: { issues: [expect.objectContaining({ path: '/text' })] } });
      await expect(send(Note, { text: 'ok', tags: { ['half \ud83d']: 'x' } })).rejects.toMatchObject({ code: 'schema-violation' });
      await expect(send.many(Note, [{ text: 'ok', tags: {} }, { text: '\udc00', tags: {} }])).rejects.toMatchObject({ code: 'schema-violation' });
      // text a store keeps, escaped or not, passes: a whole emoji, a control character other than NUL
      await send(Note, { text: 'caf\u00e9 \ud83d\ude00 \u0001', tags: {} });
    }
    expect(appended.map((r) => (JSON.parse(r.value) as { data: { text: string } }).data.text)).toEqual(['caf\u00e9 \ud83d\ude00 \u0001']);
    expect(sent).toHaveLength(1);
  });
});

describe('createDirectPublisher', () => {
  it('refuses an id for publishDirect.many too', async () => {
    const sent: { key: string }[] = [];
    const broker = { publish: async (records: readonly { key: string }[]) => void sent.push(...records) } as never;
    const publishDirect = createDirectPublisher({ broker, clock, instrumentation: createInstrumentation(), maxEventBytes: 1024 * 1024, closed: new AbortController().signal });
    await expect(publishDirect.many(Step, [data, { key: 'k', seq: 2 }], { id: uuidv7() } as never)).rejects.toMatchObject({ code: 'invalid-options', message: expect.stringContaining('id') });
    expect(sent).toEqual([]);
    await publishDirect.many(Step, [data, { key: 'k', seq: 2 }]);
    expect(sent).toHaveLength(2);
  });
});
