import { describe, expect, it } from 'vitest';
import { assignPartitions } from '../src/log/assignment.js';

const counts = new Map([['a', 4], ['b', 3]]);

describe('assignPartitions', () => {
  it('deals every partition exactly once, evenly, whatever the input order', () => {
    const one = assignPartitions([{ id: 'm2', topics: ['a', 'b'] }, { id: 'm1', topics: ['a', 'b'] }], counts);
    const two = assignPartitions([{ id: 'm1', topics: ['b', 'a'] }, { id: 'm2', topics: ['a', 'b'] }], counts);
    expect(one).toEqual(two);
    const all = [...one.values()].flat().map((tp) => `${tp.topic}/${tp.partition}`).sort();
    expect(all).toEqual(['a/0', 'a/1', 'a/2', 'a/3', 'b/0', 'b/1', 'b/2']);
    const sizes = [...one.values()].map((list) => list.length).sort();
    expect(sizes).toEqual([3, 4]);
  });

  it('gives a topic only to members subscribed to it', () => {
    const result = assignPartitions([{ id: 'm1', topics: ['a'] }, { id: 'm2', topics: ['b'] }], counts);
    expect(result.get('m1')!.every((tp) => tp.topic === 'a')).toBe(true);
    expect(result.get('m2')!.map((tp) => tp.partition)).toEqual([0, 1, 2]);
  });

  it('gives a lone member everything and a member with no topic nothing', () => {
    const result = assignPartitions([{ id: 'm1', topics: ['a', 'b'] }, { id: 'm0', topics: [] }], counts);
    expect(result.get('m1')).toHaveLength(7);
    expect(result.get('m0')).toEqual([]);
  });
});
