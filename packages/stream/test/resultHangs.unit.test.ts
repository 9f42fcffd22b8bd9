import { describe, expect, it } from 'vitest';
import type { AggregateNode } from '../src/internal/graph.js';
import { createResultHangs, type HungResult } from '../src/internal/resultHangs.js';

// What a member remembers of results that hung past their attempts' deadlines (see resultHangs.ts).

const node = { store: 'clicks.per-user' } as AggregateNode;
const hungAt = (key: string, value: unknown = 1): HungResult => ({ group: 'clicks', partition: 0, node, result: { key, start: 0, end: 1_000, kind: 'update', value } });

describe('the results that hung', () => {
  it('are counted in a row, per result: an emission starts the count again, and a later update is another result', () => {
    const hangs = createResultHangs();
    expect(hangs.timedOut(hungAt('a'))).toBe(1);
    expect(hangs.timedOut(hungAt('a'))).toBe(2);
    expect(hangs.timedOut(hungAt('a', 2))).toBe(1);
    hangs.emitted(hungAt('a'));
    expect(hangs.timedOut(hungAt('a'))).toBe(1);
  });

  it('are passed over once lettered, unless the letter could not be stored', async () => {
    const hangs = createResultHangs();
    expect(hangs.letter(hungAt('a'))).toBeUndefined();
    hangs.lettering(hungAt('a'), Promise.resolve());
    await expect(hangs.letter(hungAt('a'))).resolves.toBeUndefined();
    expect(hangs.letter(hungAt('b'))).toBeUndefined();
    const refused = Promise.reject(new Error('store down'));
    hangs.lettering(hungAt('b'), refused);
    await expect(hangs.letter(hungAt('b'))).rejects.toThrow('store down');
    // the next run emits it again, and its hangs are counted from one
    expect(hangs.letter(hungAt('b'))).toBeUndefined();
    expect(hangs.timedOut(hungAt('b'))).toBe(1);
  });

  it('are tracked up to 1,000 at once, the longest tracked forgotten first', () => {
    const hangs = createResultHangs();
    for (let i = 0; i <= 1_000; i++) hangs.lettering(hungAt(`k${i}`), Promise.resolve());
    expect(hangs.letter(hungAt('k0'))).toBeUndefined();
    expect(hangs.letter(hungAt('k1'))).toBeDefined();
    expect(hangs.letter(hungAt('k1000'))).toBeDefined();
  });
});
