import { Type } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { decodeEnvelope, defineEvent, encodeEnvelope, encodeEnvelopeValue, groupSent, murmur2, partitionForKey, uuidv7, uuidv7Time, type Envelope, type OutgoingRecord } from '@herald/core';
import { unstorableDataError } from '../src/model/envelope.js';
import { OffsetTracker } from '../src/runtime/offsets.js';

describe('uuidv7', () => {
  it('is a version 7, variant 10 UUID carrying its millisecond time', () => {
    const at = Date.now() + 60_000; // ahead of any id made so far, so the monotonic guard does not apply
    const id = uuidv7(at);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(uuidv7Time(id)).toBe(at);
  });

  it('is strictly increasing within one millisecond and across a clock that stands still', () => {
    const ids = Array.from({ length: 10_000 }, () => uuidv7(1_700_000_000_000)); // a clock behind the last id
    const sorted = [...ids].sort();
    expect(sorted).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });
});

describe('murmur2 partitioner', () => {
  // vectors from Apache Kafka's UtilsTest.testMurmur2
  it.each([
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    ['abc', 479470107],
  ])('hashes %s as Kafka does', (input, expected) => {
    expect(murmur2(Buffer.from(input))).toBe(expected);
  });

  it('hashes a key as its UTF-8 bytes, whatever its characters and length', () => {
    const keys = ['', 'k1', 'order-42', 'clé-été', '注文-7', 'emoji-\u{1F680}', 'x'.repeat(127), 'y'.repeat(128), 'z'.repeat(129), `${'a'.repeat(120)}é`];
    for (const key of keys) {
      for (const partitions of [1, 7, 12, 64]) {
        expect(partitionForKey(key, partitions)).toBe((murmur2(Buffer.from(key, 'utf8')) & 0x7fffffff) % partitions);
      }
    }
  });

  it('places keys in [0, partitions) and the same key always on the same partition', () => {
    for (let i = 0; i < 1000; i++) {
      const p = partitionForKey(`key-${i}`, 12);
      expect(p).toBeGreaterThanOrEqual(0);
      expect(p).toBeLessThan(12);
      expect(partitionForKey(`key-${i}`, 12)).toBe(p);
    }
  });
});

const envelope: Envelope = {
  id: uuidv7(),
  type: 'OrderCreated',
  version: 1,
  topic: 'orders',
  key: 'o-1',
  correlationId: 'c-1',
  causationId: null,
  occurredAt: new Date(0).toISOString(),
  headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
  data: { orderId: 'o-1' },
};

describe('envelope wire form', () => {
  it('round-trips through JSON', () => {
    expect(decodeEnvelope(encodeEnvelope(envelope))).toEqual(envelope);
  });

  it('refuses an oversized event with a clear error naming size and limit', () => {
    const big = { ...envelope, data: { blob: 'x'.repeat(2000) } };
    expect(() => encodeEnvelope(big, 1000)).toThrowError(/OrderCreated event is \d+ bytes, over the limit of 1000 bytes/);
    try {
      encodeEnvelope(big, 1000);
    } catch (error) {
      expect(error).toMatchObject({ code: 'event-too-large', retriable: false });
    }
  });

  it('publishes the headers beside the value (binary form) and reads them back from the record', () => {
    const value = encodeEnvelopeValue(envelope);
    expect(Object.keys(JSON.parse(value) as object)).not.toContain('headers');
    expect(value.length).toBeLessThan(encodeEnvelope(envelope).length - envelope.headers['traceparent']!.length);
    expect(decodeEnvelope(value, envelope.headers)).toEqual(envelope);
    expect(decodeEnvelope(value).headers, 'a record without headers').toEqual({});
  });

  it('keeps the headers a self-contained envelope carries (records written before the binary form), whatever the record has', () => {
    const recordHeaders = { traceparent: '00-11111111111111111111111111111111-2222222222222222-01', 'herald-redrive-group': 'g' };
    expect(decodeEnvelope(encodeEnvelope(envelope), recordHeaders).headers).toEqual(envelope.headers);
  });

  it('counts the headers beside the value in the size limit, as a broker counts a record', () => {
    const sized = { ...envelope, headers: {}, data: { blob: 'x'.repeat(600) } };
    expect(() => encodeEnvelopeValue(sized, 1000)).not.toThrow();
    const withHeaders = { ...sized, headers: { note: 'y'.repeat(400) } };
    expect(() => encodeEnvelopeValue(withHeaders, 1000)).toThrowError(expect.objectContaining({ code: 'event-too-large' }));
    const size = Buffer.byteLength(encodeEnvelopeValue(withHeaders)) + 'note'.length + 400;
    expect(() => encodeEnvelopeValue(withHeaders, 1000)).toThrowError(`OrderCreated event is ${size} bytes, over the limit of 1000 bytes`);
  });

  it.each([
    ['{not json', /not JSON/],
    ['', /^malformed envelope: the record has no value \(a tombstone or an empty value\), so it holds no event$/],
    ['[1,2]', /not a JSON object/],
    [JSON.stringify({ ...envelope, id: '' }), /"id" must be a non-empty string/],
    [JSON.stringify({ ...envelope, version: 0 }), /"version" must be a positive integer/],
    [JSON.stringify({ ...envelope, headers: 'x' }), /"headers" must be an object/],
    [JSON.stringify({ ...envelope, data: undefined }), /"data" is missing/],
    [JSON.stringify({ ...envelope, correlationId: '' }), /"correlationId" must be a non-empty string/],
    [JSON.stringify({ ...envelope, causationId: 5 }), /"causationId" must be a string or null/],
    [JSON.stringify({ ...envelope, headers: { traceparent: 5 } }), /header "traceparent" must be a string, got number/],
    [JSON.stringify({ ...envelope, headers: { note: null } }), /header "note" must be a string, got null/],
    [JSON.stringify({ ...envelope, headers: { nested: { a: 1 } } }), /header "nested" must be a string, got object/],
    [JSON.stringify({ ...envelope, occurredAt: 'not a date' }), /"occurredAt" must be an ISO 8601 UTC time/],
    [JSON.stringify({ ...envelope, occurredAt: '2026-13-01T00:00:00.000Z' }), /"occurredAt" must be an ISO 8601 UTC time/],
    [JSON.stringify({ ...envelope, occurredAt: '2026-01-01' }), /"occurredAt" must be an ISO 8601 UTC time/],
    // text no store keeps, escaped as JSON.stringify and other writers escape it
    [JSON.stringify({ ...envelope, id: 'a\u0000b' }), /field "id" must not contain U\+0000/],
    [JSON.stringify({ ...envelope, type: 'Order\ud800' }), /field "type" must not contain a lone UTF-16 surrogate/],
    [JSON.stringify({ ...envelope, topic: 'orders\u0000' }), /field "topic" must not contain U\+0000/],
    [JSON.stringify({ ...envelope, key: '\udc00k' }), /field "key" must not contain a lone UTF-16 surrogate/],
    [JSON.stringify({ ...envelope, correlationId: 'c\u0000' }), /field "correlationId" must not contain U\+0000/],
    [JSON.stringify({ ...envelope, causationId: 'x\ud83d' }), /field "causationId" must not contain a lone UTF-16 surrogate/],
    [JSON.stringify({ ...envelope, key: 'k\u00e9\ud800' }).replace('\u00e9', '\\u00E9').replace('\\ud800', '\\uD800'), /field "key" must not contain a lone UTF-16 surrogate/],
    [JSON.stringify({ ...envelope, id: '\\\u0000' }), /field "id" must not contain U\+0000/],
    // text that reads as the other half of a pair, after an escaped backslash, is no other half
    [JSON.stringify({ ...envelope, key: '\\ud800\udc00' }), /field "key" must not contain a lone UTF-16 surrogate/],
    [JSON.stringify({ ...envelope, key: '\ud83d\\ude00' }), /field "key" must not contain a lone UTF-16 surrogate/],
  ])('rejects malformed input %#', (wire, message) => {
    expect(() => decodeEnvelope(wire)).toThrowError(message);
    expect(() => decodeEnvelope(wire)).toThrowError(expect.objectContaining({ code: 'malformed-envelope' }));
  });

  it('reads escaped text every store keeps: escaped letters and emoji, and text that only looks like an escape', () => {
    const escaped = { ...envelope, key: 'caf\u00e9 \u{1F600}', id: '\\ud800 \\u0000', data: { note: 'caf\u00e9 \u{1F600}', '\\udc00': 1 } };
    const wire = encodeEnvelope(escaped).replaceAll('\u00e9', '\\u00e9').replaceAll('\u{1F600}', '\\uD83D\\uDE00');
    expect(wire).toContain('"key":"caf\\u00e9 \\uD83D\\uDE00"');
    expect(decodeEnvelope(wire)).toEqual(escaped);
    expect(unstorableDataError(wire, decodeEnvelope(wire))).toBeUndefined();
  });

  it("names where an event's data holds U+0000 or a lone surrogate (a property name included), as a schema violation", () => {
    const data = { lines: [{ sku: 'a\u0000' }, { sku: 'ok \u{1F600}' }], ['n\ud800']: 1, cut: 'caf\ud83d' };
    const wire = encodeEnvelope({ ...envelope, data });
    const error = unstorableDataError(wire, decodeEnvelope(wire));
    expect(error).toMatchObject({ code: 'schema-violation', retriable: false, message: 'OrderCreated does not match its schema: /lines/0/sku must not contain U+0000 (NUL); /n\ud800 its name must not contain a lone UTF-16 surrogate; /cut must not contain a lone UTF-16 surrogate' });
    expect(error?.issues.map((i) => i.path)).toEqual(['/lines/0/sku', '/n\ud800', '/cut']);
    // a value that is only text, and one whose text is fine
    const bare = encodeEnvelope({ ...envelope, data: '\u0000' });
    expect(unstorableDataError(bare, decodeEnvelope(bare))?.issues).toEqual([{ path: '/', message: 'must not contain U+0000 (NUL)' }]);
    expect(unstorableDataError(encodeEnvelope(envelope), envelope)).toBeUndefined();
  });

  it('reads every occurredAt Date.toISOString writes, six-digit years included', () => {
    for (const ms of [0, Date.UTC(2028, 1, 29, 23, 59, 59, 999), -8.64e15, 8.64e15, Date.UTC(-1, 0, 1)]) {
      const at = { ...envelope, occurredAt: new Date(ms).toISOString() };
      expect(decodeEnvelope(encodeEnvelope(at)), at.occurredAt).toEqual(at);
    }
  });

  it('refuses a header value that is no string instead of leaving it out of the size limit', () => {
    const big = { ...envelope, data: { blob: 'x'.repeat(2000) } };
    const numeric = { ...big, headers: { attempt: 1 } } as unknown as Envelope;
    expect(() => encodeEnvelopeValue(numeric, 1000)).toThrowError(expect.objectContaining({ code: 'invalid-options', message: expect.stringContaining('header "attempt" must be a string') }));
    expect(() => encodeEnvelopeValue({ ...big, headers: { attempt: '1' } }, 1000)).toThrowError(expect.objectContaining({ code: 'event-too-large' }));
  });
});

describe('defineEvent', () => {
  const OrderCreated = defineEvent({
    type: 'OrderCreated',
    topic: 'orders',
    key: (d) => d.orderId,
    schema: Type.Object({ orderId: Type.String({ minLength: 1 }), priceCents: Type.Integer({ minimum: 1 }) }, { additionalProperties: false }),
  });

  it('gives a JSON Schema, a key and a validator', () => {
    expect(OrderCreated.jsonSchema).toMatchObject({ type: 'object', required: ['orderId', 'priceCents'] });
    expect(OrderCreated.key({ orderId: 'o-9', priceCents: 5 })).toBe('o-9');
    expect(OrderCreated.check({ orderId: 'o', priceCents: 1 })).toEqual([]);
  });

  it('lists the issues of invalid data with their paths', () => {
    const issues = OrderCreated.check({ orderId: '', priceCents: 1.5, extra: true });
    expect(issues.map((i) => i.path)).toEqual(expect.arrayContaining(['/orderId', '/priceCents', '/extra']));
    expect(() => OrderCreated.parse({ orderId: 1 })).toThrowError(/OrderCreated does not match its schema/);
  });

  it('refuses bad names, versions, keys and schemas at definition time', () => {
    expect(() => defineEvent({ type: 'bad type', topic: 't', key: () => 'k', schema: Type.Object({}) })).toThrowError(/must match/);
    expect(() => defineEvent({ type: 'T', version: 0, topic: 't', key: () => 'k', schema: Type.Object({}) })).toThrowError(/positive integer/);
    // what a JavaScript caller (or a cast) can leave out fails here, not at the first publish
    const untyped = defineEvent as (options: unknown) => unknown;
    expect(() => untyped({ type: 'T', topic: 't', schema: Type.Object({}) })).toThrowError(/T needs key: a function/);
    expect(() => untyped({ type: 'T', topic: 't', key: 'orderId', schema: Type.Object({}) })).toThrowError(/T needs key/);
    expect(() => untyped({ type: 'T', topic: 't', key: () => 'k' })).toThrowError(/T needs schema/);
  });
});

describe('OffsetTracker', () => {
  it('commits only up to the highest contiguous completed offset', () => {
    const t = new OffsetTracker();
    [10, 11, 12, 13].forEach((o) => t.add(o));
    expect(t.position).toBeUndefined();
    t.complete(12);
    expect(t.position).toBeUndefined();
    t.complete(10);
    expect(t.position).toBe(11);
    t.complete(11);
    expect(t.position).toBe(13);
    expect(t.outstanding).toBe(1);
    t.complete(13);
    expect(t.position).toBe(14);
  });

  it('handles gaps in offsets (compacted or deleted records) and long runs', () => {
    const t = new OffsetTracker();
    for (let o = 0; o < 5000; o += 2) t.add(o);
    for (let o = 4998; o >= 0; o -= 2) t.complete(o);
    expect(t.position).toBe(4999);
    expect(t.outstanding).toBe(0);
  });

  it('agrees with a plain model over in-order runs, out-of-order completions and compactions', () => {
    // a seeded walk: offsets with gaps, completed mostly oldest first (a batch handler) and now and
    // then out of order (keys finishing at different times), long enough to compact the pending list
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const t = new OffsetTracker();
    const added: number[] = [];
    const open: number[] = []; // added, not completed, in offset order
    const completed = new Set<number>();
    let contiguous = 0; // how many of `added`, from the first, are completed
    let offset = 0;
    for (let step = 0; step < 20_000; step++) {
      if (open.length < 50 || random() < 0.5) {
        offset += random() < 0.1 ? 3 : 1;
        t.add(offset);
        added.push(offset);
        open.push(offset);
      } else {
        const at = random() < 0.8 ? 0 : Math.floor(random() * open.length);
        const [done] = open.splice(at, 1);
        t.complete(done!);
        completed.add(done!);
        while (contiguous < added.length && completed.has(added[contiguous]!)) contiguous++;
      }
      expect(t.position).toBe(contiguous === 0 ? undefined : added[contiguous - 1]! + 1);
      expect(t.outstanding).toBe(open.length);
    }
    expect(contiguous).toBeGreaterThan(5000);
  });
});

describe('groupSent (a relay run elsewhere reports its sends)', () => {
  const parent = (span: string, flags: string) => `00-${'ab'.repeat(16)}-${span.repeat(16)}-${flags}`;
  const record = (topic: string, key: string, headers?: Record<string, string>): OutgoingRecord => ({ topic, key, value: key, ...(headers ? { headers } : {}) });

  it('groups by topic and creation context in order of first appearance, counting records and keeping the first key', () => {
    const sampled = parent('1', '01');
    const other = parent('2', '03'); // another flag bit set beside sampled: still sampled
    const groups = groupSent([
      record('orders', 'a', { traceparent: sampled, tracestate: 'vendor=x' }),
      record('orders', 'b', { traceparent: sampled, tracestate: 'vendor=x' }),
      record('payments', 'c', { traceparent: sampled }),
      record('orders', 'd'),
      record('orders', 'e', { traceparent: other }),
      record('orders', 'f', { traceparent: sampled }),
      record('orders', 'g'),
    ]);
    expect(groups).toEqual([
      { topic: 'orders', traceparent: sampled, tracestate: 'vendor=x', count: 3, key: 'a' },
      { topic: 'payments', traceparent: sampled, count: 1, key: 'c' },
      { topic: 'orders', count: 2, key: 'd' },
      { topic: 'orders', traceparent: other, count: 1, key: 'e' },
    ]);
  });

  it('leaves out the records of unsampled traces, and reports what it cannot judge', () => {
    const unsampled = parent('3', '00');
    const later = `01-${'ab'.repeat(16)}-${'4'.repeat(16)}-00-more`; // a later version: the tracer judges it
    const groups = groupSent([
      record('orders', 'a', { traceparent: unsampled }),
      record('orders', 'b', { traceparent: unsampled }),
      record('orders', 'c', { traceparent: parent('5', '02') }), // a flag set, but not sampled
      record('orders', 'd', { traceparent: later }),
      record('orders', 'e', { traceparent: 'not a traceparent' }),
      record('orders', 'f', { traceparent: parent('6', 'zz') }),
      record('orders', 'g', { traceparent: parent('7', '0z') }), // a digit, then not one
      record('orders', 'h', { traceparent: parent('8', '0A') }), // upper case: not W3C's form
      record('orders', 'i', { traceparent: parent('9', 'fe') }), // every flag but sampled
    ]);
    expect(groups.map((group) => [group.key, group.count])).toEqual([
      ['d', 1],
      ['e', 1],
      ['f', 1],
      ['g', 1],
      ['h', 1],
    ]);
    expect(groupSent([record('orders', 'a', { traceparent: unsampled })])).toEqual([]);
  });
});
