import { Type } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { createEventRegistry, defineEvent, ErrorCodes, readEvent, uuidv7, type Envelope, type EventDefinition, type HeraldError } from '@herald/core';

// three versions of one event: v2 adds tags (none before), v3 renames title to headline
const V1 = defineEvent({
  type: 'PostCreated',
  topic: 'posts',
  key: (d) => d.postId,
  schema: Type.Object({ postId: Type.String(), title: Type.String() }, { additionalProperties: false }),
});
const V2 = defineEvent({
  type: 'PostCreated',
  version: 2,
  topic: 'posts',
  key: (d) => d.postId,
  schema: Type.Object({ postId: Type.String(), title: Type.String(), tags: Type.Array(Type.String()) }, { additionalProperties: false }),
  upcast: { from: V1, data: (v1) => ({ ...v1, tags: [] }) },
});
const V3 = defineEvent({
  type: 'PostCreated',
  version: 3,
  topic: 'posts',
  key: (d) => d.postId,
  schema: Type.Object({ postId: Type.String(), headline: Type.String({ minLength: 1 }), tags: Type.Array(Type.String()) }, { additionalProperties: false }),
  upcast: { from: V2, data: ({ title, ...rest }) => ({ ...rest, headline: title }) },
});

function event(version: number, data: unknown, type = 'PostCreated'): Envelope {
  return { id: uuidv7(), type, version, topic: 'posts', key: 'p-1', correlationId: 'c-1', causationId: null, occurredAt: new Date(0).toISOString(), headers: { traceparent: 'x' }, data };
}

function codeOf(run: () => unknown): { code: string; message: string } {
  try {
    run();
  } catch (error) {
    return { code: (error as HeraldError).code, message: (error as Error).message };
  }
  throw new Error('expected a throw');
}

describe("readEvent: an event as its handler's version reads it", () => {
  it("returns an event of the definition's own version as it is, checked", () => {
    const same = event(3, { postId: 'p-1', headline: 'Hi', tags: ['a'] });
    expect(readEvent(V3, same)).toBe(same);
    expect(codeOf(() => readEvent(V3, event(3, { postId: 'p-1', title: 'Hi', tags: [] }))).code).toBe(ErrorCodes.schemaViolation);
  });

  it('upcasts each earlier version step by step, changing only version and data', () => {
    const v1 = event(1, { postId: 'p-1', title: 'Hello' });
    const read = readEvent(V3, v1);
    expect(read).toEqual({ ...v1, version: 3, data: { postId: 'p-1', headline: 'Hello', tags: [] } });
    expect(v1.data).toEqual({ postId: 'p-1', title: 'Hello' }); // the delivered event is not changed
    expect(readEvent(V3, event(2, { postId: 'p-1', title: 'T', tags: ['x'] })).data).toEqual({ postId: 'p-1', headline: 'T', tags: ['x'] });
    expect(readEvent(V2, v1).data).toEqual({ postId: 'p-1', title: 'Hello', tags: [] });
  });

  it('checks the data against its own version before upcasting it', () => {
    const bad = codeOf(() => readEvent(V3, event(1, { postId: 'p-1' })));
    expect(bad.code).toBe(ErrorCodes.schemaViolation);
    expect(bad.message).toMatch(/PostCreated version 1 does not match its schema: \/title/);
  });

  it('refuses a newer version, another type and a version below the chain', () => {
    const newer = codeOf(() => readEvent(V2, event(3, { postId: 'p-1', headline: 'x', tags: [] })));
    expect(newer).toEqual({ code: ErrorCodes.unknownEventType, message: 'version 3 of PostCreated is newer than this consumer reads (version 2): deploy a consumer that defines it, then redrive' });
    expect(codeOf(() => readEvent(V1, event(1, {}, 'PostDeleted'))).code).toBe(ErrorCodes.unknownEventType);
    const alone = defineEvent({ type: 'PostCreated', version: 5, topic: 'posts', key: () => 'k', schema: Type.Object({}) });
    expect(codeOf(() => readEvent(alone, event(1, { postId: 'p', title: 't' }))).message).toBe('version 1 of PostCreated is not one this consumer reads (only version 5)');
    const fromTwo = defineEvent({ type: 'PostCreated', version: 4, topic: 'posts', key: () => 'k', schema: Type.Object({}), upcast: { from: V3, data: () => ({}) } });
    const { upcast: _, ...v2Alone } = V2;
    const shortChain = { ...fromTwo, upcast: { from: { ...V3, upcast: { from: v2Alone as EventDefinition, data: V3.upcast!.data } }, data: fromTwo.upcast!.data } } as EventDefinition;
    expect(codeOf(() => readEvent(shortChain, event(1, { postId: 'p', title: 't' }))).message).toBe('version 1 of PostCreated is not one this consumer reads (versions 2, 3 and 4)');
    // a chain may skip a version: the message names the ones it reads
    const skipping = defineEvent({ type: 'PostCreated', version: 3, topic: 'posts', key: () => 'k', schema: Type.Object({}), upcast: { from: V1, data: () => ({}) } });
    expect(codeOf(() => readEvent(skipping, event(2, { postId: 'p', title: 't', tags: [] }))).message).toBe('version 2 of PostCreated is not one this consumer reads (versions 1 and 3)');
  });

  it('reports an upcast that throws or returns data the newer schema refuses as upcast-failed', async () => {
    const throwing = defineEvent({
      type: 'PostCreated',
      version: 2,
      topic: 'posts',
      key: (d) => d.postId,
      schema: V2.schema,
      upcast: {
        from: V1,
        data: () => {
          throw new Error('no tags service');
        },
      },
    });
    const threw = codeOf(() => readEvent(throwing, event(1, { postId: 'p-1', title: 'x' })));
    expect(threw).toEqual({ code: ErrorCodes.upcastFailed, message: 'PostCreated upcast from version 1 to 2 threw: no tags service' });
    // anything may be thrown, an object String() cannot print too: still upcast-failed, not a TypeError
    const bare = Object.assign(Object.create(null) as object, { reason: 'no tags' });
    const throwingBare = { ...V2, upcast: { from: V1, data: () => { throw bare; } } } as unknown as EventDefinition;
    expect(codeOf(() => readEvent(throwingBare, event(1, { postId: 'p-1', title: 'x' })))).toEqual({
      code: ErrorCodes.upcastFailed,
      message: 'PostCreated upcast from version 1 to 2 threw: an object with keys reason',
    });
    // an async upcast (JavaScript lets one through) is refused, its rejection handled
    const asyncUpcast = { ...V2, upcast: { from: V1, data: async () => Promise.reject(new Error('later')) } } as unknown as EventDefinition;
    let unhandled = 0;
    const count = () => void unhandled++;
    process.on('unhandledRejection', count);
    try {
      expect(codeOf(() => readEvent(asyncUpcast, event(1, { postId: 'p-1', title: 'x' })))).toEqual({
        code: ErrorCodes.upcastFailed,
        message: 'PostCreated upcast from version 1 to 2 returned a promise: an upcast is a synchronous function of the earlier data',
      });
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(unhandled).toBe(0);
    } finally {
      process.off('unhandledRejection', count);
    }
    // v3's headline must not be empty: a v1 title of '' passes v1 and v2, and fails at the last step
    const refused = codeOf(() => readEvent(V3, event(1, { postId: 'p-1', title: '' })));
    expect(refused.code).toBe(ErrorCodes.upcastFailed);
    expect(refused.message).toMatch(/^PostCreated upcast from version 2 to 3 does not match version 3's schema: \/headline/);
  });
});

describe('defineEvent upcast', () => {
  it('refuses an upcast from another type, a later or equal version, another topic, or without a function', () => {
    const base = { type: 'PostCreated', version: 2, topic: 'posts', key: () => 'k', schema: Type.Object({}) };
    const untyped = defineEvent as (options: unknown) => unknown;
    const cases: [unknown, RegExp][] = [
      [{ ...base, upcast: { from: defineEvent({ ...base, type: 'Other', version: 1 }), data: () => ({}) } }, /upcast.from is Other, not an earlier version of PostCreated/],
      [{ ...base, upcast: { from: V3, data: () => ({}) } }, /must be an earlier version, got version 3/],
      [{ ...base, upcast: { from: V2, data: () => ({}) } }, /must be an earlier version, got version 2/],
      [{ ...base, upcast: { from: defineEvent({ ...base, topic: 'drafts', version: 1 }), data: () => ({}) } }, /every version of PostCreated must go to posts/],
      [{ ...base, upcast: { from: V1 } }, /upcast.data must be a function/],
      [{ ...base, upcast: { from: {}, data: () => ({}) } }, /upcast.from must be the event definition/],
      [{ ...base, upcast: null }, /upcast.from must be the event definition/],
    ];
    for (const [options, message] of cases) expect(codeOf(() => untyped(options))).toEqual({ code: ErrorCodes.invalidOptions, message: expect.stringMatching(message) });
  });

  it('registers the versions a definition reads', () => {
    const registry = createEventRegistry([V3]);
    expect([1, 2, 3].map((v) => registry.get('PostCreated', v))).toEqual([V1, V2, V3]);
    expect(registry.get('PostCreated', 4)).toBeUndefined();
    // registered on its own first, a version stays what it was
    const again = createEventRegistry([V1, V3]);
    expect(again.get('PostCreated', 1)).toBe(V1);
  });
});
