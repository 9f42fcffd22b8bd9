import { describe, expect, it } from 'vitest';
import { renameReservedFields } from '@herald/core';

const WRITTEN = ['time', 'level', 'msg'];

describe('renameReservedFields', () => {
  it('renames a field named like a key the logger writes, in a copy, and gives back the very fields when none is', () => {
    const fields = { level: 'debug', orderId: 'o-1', 'fields.level': 'mine' };
    expect(renameReservedFields(fields, WRITTEN)).toEqual({ orderId: 'o-1', 'fields.level': 'debug' });
    expect(fields).toEqual({ level: 'debug', orderId: 'o-1', 'fields.level': 'mine' });
    const plain = { orderId: 'o-1', msg: undefined };
    expect(renameReservedFields(plain, WRITTEN)).toBe(plain);
    const inherited = Object.create({ level: 'debug' }) as Record<string, unknown>;
    expect(renameReservedFields(inherited, WRITTEN)).toBe(inherited);
  });

  it('gives back fields it cannot read as they are', () => {
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    const throwing = Object.defineProperty({}, 'level', { enumerable: true, get: () => { throw new Error('not loaded'); } });
    expect(renameReservedFields(proxy, WRITTEN)).toBe(proxy);
    expect(renameReservedFields(throwing, WRITTEN)).toBe(throwing);
  });
});
