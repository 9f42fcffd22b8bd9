import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { describeThrown } from '@herald/core';

/** An object without a prototype, as a driver or a parser may throw: `String()` throws on it. */
const bare = (fields: Record<string, unknown>): object => Object.assign(Object.create(null) as object, fields);

describe('describeThrown', () => {
  it('writes an Error as its message (named on asking), a string as it is, and other values as JSON', () => {
    expect(describeThrown(new TypeError('card declined'))).toBe('card declined');
    expect(describeThrown(new TypeError('card declined'), { named: true })).toBe('TypeError: card declined');
    expect(describeThrown(runInNewContext('new RangeError("from a vm context")'), { named: true })).toBe('RangeError: from a vm context');
    expect(describeThrown('issuer said no')).toBe('issuer said no');
    expect(describeThrown('issuer said no', { json: true })).toBe('"issuer said no"');
    expect(describeThrown({ code: 'E42', status: 503 })).toBe('{"code":"E42","status":503}');
    expect(describeThrown(null)).toBe('null');
    expect(describeThrown(undefined, { json: true })).toBe('undefined');
    expect(describeThrown(Symbol('gone'))).toBe('Symbol(gone)');
  });

  it('never throws, whatever was thrown: each value ends in the first form that can be read', () => {
    const cyclic = bare({ code: 'E42' }) as Record<string, unknown>;
    cyclic['self'] = cyclic;
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    const throwingToString = { toJSON: () => undefined, toString: () => { throw new Error('no'); } };
    const throwingGetter = Object.defineProperty({}, 'body', { enumerable: true, get: () => { throw new Error('consumed'); } });
    const unreadableMessage = Object.defineProperty(new Error('x'), 'message', { get: () => { throw new Error('no'); } });
    expect(describeThrown(bare({ code: 'E42' }))).toBe('{"code":"E42"}');
    expect(describeThrown(cyclic)).toBe('[object Object]');
    expect(describeThrown(10n)).toBe('10');
    expect(describeThrown(10n, { json: true })).toBe('10');
    expect(describeThrown({ big: 10n })).toBe('[object Object]');
    expect(describeThrown(throwingToString)).toBe('[object Object]');
    expect(describeThrown(throwingGetter)).toBe('[object Object]');
    expect(describeThrown(unreadableMessage)).toBe('[object Error]');
    expect(describeThrown(proxy)).toBe('an unprintable value was thrown');
  });

  it('redacts credentials before cutting to maxLength, so none is left half written at the cut', () => {
    expect(describeThrown(new Error('connect to postgres://app:s3cret@db/orders'))).toBe('connect to postgres://app:[redacted]@db/orders');
    // the cut falls 10 characters into the token: too short to be known as one once cut
    const described = describeThrown('x'.repeat(2_030) + ' Bearer abcdefghijklmnopqrstuvwxyz0123 was refused', { maxLength: 2_048 });
    expect(described).toHaveLength(2_049);
    expect(described.endsWith('…')).toBe(true);
    expect(described).not.toContain('abcdefgh');
    // not between the two halves of a character outside the BMP
    expect(describeThrown('ab😀', { maxLength: 3 })).toBe('ab…');
    expect(describeThrown('short', { maxLength: 2_048 })).toBe('short');
  });
});
