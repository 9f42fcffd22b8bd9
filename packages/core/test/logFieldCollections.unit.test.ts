import { describe, expect, it } from 'vitest';
import { jsonLogger, jsonReadyFields } from '@herald/core';

// JSON writes a Map or a Set as `{}`: a line logging one (a handler's counts per key, the ids it
// saw) said nothing. They are written as arrays, bounded and redacted as arrays and objects are.

const DATABASE_URL = 'postgres://app:s3cr3t@db/orders';

describe('jsonReadyFields writes a Map or a Set', () => {
  it('writes a Map as its [key, value] pairs in order, a Set as its values, with credentials redacted by key name and in text', () => {
    const owner = { id: 'u-1' };
    const settings = new Map<unknown, unknown>([
      ['orderId', 'o-1'],
      ['password', 'pw-1'],
      ['x-api-key', 'k-1'],
      ['dsn', DATABASE_URL],
      [owner, new Set(['a', DATABASE_URL])],
      [7, { token: 't-1', n: 7 }],
      ['nested', new Map([['secret', 's-1']])],
    ]);
    const seen = new Set<unknown>(['e-1', Buffer.from('hunter2'), new Error(`connect ${DATABASE_URL}`)]);
    const ready = jsonReadyFields({ settings, seen });
    expect(ready['settings']).toEqual([
      ['orderId', 'o-1'],
      ['password', '[redacted]'],
      ['x-api-key', '[redacted]'],
      ['dsn', 'postgres://app:[redacted]@db/orders'],
      [{ id: 'u-1' }, ['a', 'postgres://app:[redacted]@db/orders']],
      [7, { token: '[redacted]', n: 7 }],
      ['nested', [['secret', '[redacted]']]],
    ]);
    expect(ready['seen']).toEqual(['e-1', '[binary: 7 bytes]', expect.objectContaining({ name: 'Error', message: 'connect postgres://app:[redacted]@db/orders' })]);
    expect(JSON.stringify(ready)).not.toMatch(/pw-1|k-1|s3cr3t|t-1|s-1|hunter2/);
    // the caller's collections are left as they were
    expect(settings.get('password')).toBe('pw-1');
    expect(seen.size).toBe(3);
  });

  it('cuts a Map or a Set over 1,000 entries as an array is cut, saying how many were left out', () => {
    const counts = new Map(Array.from({ length: 2_500 }, (_, i) => [`k-${i}`, i] as const));
    const ids = new Set(Array.from({ length: 1_200 }, (_, i) => i));
    const ready = jsonReadyFields({ counts, ids });
    const pairs = ready['counts'] as unknown[];
    expect(pairs).toHaveLength(1_001);
    expect(pairs[999]).toEqual(['k-999', 999]);
    expect(pairs[1_000]).toBe('[1500 more items left out]');
    const values = ready['ids'] as unknown[];
    expect(values).toHaveLength(1_001);
    expect(values[1_000]).toBe('[200 more items left out]');
  });

  it("writes a Map that holds itself as [circular] there, and a collection's own toJSON as it gives it", () => {
    const loop = new Map<string, unknown>([['a', 1]]);
    loop.set('self', loop);
    class Registry extends Map<string, string> {
      toJSON() {
        return { size: this.size };
      }
    }
    const ready = jsonReadyFields({ loop, registry: new Registry([['x', 'y']]) });
    expect(JSON.parse(JSON.stringify(ready))).toEqual({ loop: [['a', 1], ['self', '[circular]']], registry: { size: 1 } });
  });

  it('writes them so through jsonLogger, on its lines', () => {
    const lines: string[] = [];
    jsonLogger({ level: 'info', write: (line) => lines.push(line) }).info('batch done', { perKey: new Map([['o-1', 2]]), keys: new Set(['o-1']) });
    expect(JSON.parse(lines[0]!)).toMatchObject({ msg: 'batch done', perKey: [['o-1', 2]], keys: ['o-1'] });
  });
});
