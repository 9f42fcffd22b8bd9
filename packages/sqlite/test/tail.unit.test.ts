import { describe, expect, it } from 'vitest';
import type { Delivery } from '@herald/core';
import { createTail, keptHeaders, type AppendedRecords, type Tail } from '../src/log/tail.js';

/** `count` records of one partition from offset `first`, each key and value `size` characters long. */
function records(first: number, count: number, size = 10): AppendedRecords {
  const offsets = Array.from({ length: count }, (_, i) => first + i);
  return {
    pids: offsets.map(() => 0),
    offsets,
    keys: offsets.map((o) => `${o}`.padStart(size, 'k')),
    values: offsets.map((o) => `${o}`.padStart(size, 'v')),
    headers: offsets.map(() => undefined),
    timestamps: offsets.map(() => 1),
  };
}
const AT = { topic: 't', partition: 0 };
/** Adds a chunk of `count` records from `first` to `pid`'s run, kept for `readers` reads (many: the tests read again and again). */
const add = (tail: Tail, pid: number, first: number, count: number, readers = 1000) => tail.add(pid, AT, records(first, count), 0, count, readers);
const offsets = (read: { deliveries: Delivery[] } | undefined) => read?.deliveries.map((d) => d.offset);

describe('createTail', () => {
  it('answers from a position inside a contiguous run, across chunks, up to the limit, with the run’s end', () => {
    const tail = createTail(1 << 20);
    add(tail, 7, 10, 3);
    add(tail, 7, 13, 2);
    add(tail, 7, 15, 4);
    expect(offsets(tail.read(7, 11, 100))).toEqual([11, 12, 13, 14, 15, 16, 17, 18]);
    expect(tail.read(7, 11, 100)?.end).toBe(19);
    expect(offsets(tail.read(7, 12, 3))).toEqual([12, 13, 14]);
    expect(offsets(tail.read(7, 18, 5))).toEqual([18]);
    // below the run, at or past its end, another partition: read the file
    expect(tail.read(7, 9, 5)).toBeUndefined();
    expect(tail.read(7, 19, 5)).toBeUndefined();
    expect(tail.read(8, 12, 5)).toBeUndefined();
  });

  it('never answers across records it did not keep: a hand-over with no reader ends the run', () => {
    const tail = createTail(1 << 20);
    add(tail, 7, 0, 10, 1); // kept for a reader that has not read it yet
    add(tail, 7, 10, 10, 0); // nobody reads the partition here now: not kept
    add(tail, 7, 20, 10, 1); // a reader again
    // a member at 0 reads the file (10..19 are not here), not 0..9 followed by 20..29
    expect(tail.read(7, 0, 100)).toBeUndefined();
    expect(offsets(tail.read(7, 20, 100))).toEqual(Array.from({ length: 10 }, (_, i) => 20 + i));
  });

  it('makes each delivery from its records when read: a chunk is a stretch of a hand-over', () => {
    const tail = createTail(1 << 20);
    const handed = records(40, 6);
    const traced = { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' };
    const withHeaders: AppendedRecords = { ...handed, headers: handed.headers.map((_, i) => (i === 3 ? traced : undefined)), timestamps: handed.timestamps.map((_, i) => 1000 + i) };
    tail.add(3, { topic: 'orders', partition: 5 }, withHeaders, 2, 5, 2);
    const read = tail.read(3, 42, 10);
    expect(read?.end).toBe(45);
    expect(read?.deliveries).toEqual([42, 43, 44].map((offset, i) => ({
      topic: 'orders',
      partition: 5,
      offset,
      key: `${offset}`.padStart(10, 'k'),
      value: `${offset}`.padStart(10, 'v'),
      headers: i === 1 ? traced : {},
      timestamp: 1002 + i,
    })));
    expect(Object.isFrozen(read?.deliveries[1]?.headers)).toBe(true);
    expect(tail.read(3, 41, 10)).toBeUndefined();
  });

  it('replaces a partition’s run with a chunk that does not continue it (records it was not handed)', () => {
    const tail = createTail(1 << 20);
    add(tail, 1, 0, 5);
    // offsets 5..7 were appended by another connection: nothing from 5 on may come from memory
    add(tail, 1, 8, 2);
    expect(tail.read(1, 2, 10)).toBeUndefined();
    expect(tail.read(1, 5, 10)).toBeUndefined();
    expect(offsets(tail.read(1, 8, 10))).toEqual([8, 9]);
  });

  it('keeps at most its budget, the oldest chunks of any partition going first', () => {
    // each record costs 2 × 10 characters + 100: three records of 120 fit in 400, not four
    const tail = createTail(400);
    add(tail, 1, 0, 1);
    add(tail, 2, 0, 1);
    add(tail, 1, 1, 1);
    expect(offsets(tail.read(1, 0, 10))).toEqual([0, 1]);
    add(tail, 2, 1, 1);
    // partition 1's first chunk was the oldest: its run now starts at 1
    expect(tail.read(1, 0, 10)).toBeUndefined();
    expect(offsets(tail.read(1, 1, 10))).toEqual([1]);
    expect(offsets(tail.read(2, 0, 10))).toEqual([0, 1]);
    // a replaced run's bytes are freed at once: three more fit without evicting partition 2
    add(tail, 1, 50, 1);
    expect(offsets(tail.read(2, 0, 10))).toEqual([0, 1]);
    // evicting many chunks in turn keeps the newest within budget
    for (let i = 2; i < 3000; i++) add(tail, 2, i, 1);
    expect(tail.read(2, 2996, 10)).toBeUndefined();
    expect(offsets(tail.read(2, 2997, 10))).toEqual([2997, 2998, 2999]);
    expect(tail.read(1, 50, 10)).toBeUndefined();
  });

  it('lets a chunk go once its readers each delivered its last record, keeping the run’s end', () => {
    const tail = createTail(1 << 20);
    add(tail, 1, 0, 4, 2);
    add(tail, 1, 4, 4, 2);
    // a read that stops inside the first chunk does not count for it
    expect(offsets(tail.read(1, 0, 2))).toEqual([0, 1]);
    expect(offsets(tail.read(1, 2, 4))).toEqual([2, 3, 4, 5]);
    // the first chunk was delivered whole once; the second reader reads it all
    expect(offsets(tail.read(1, 0, 100))).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(tail.read(1, 0, 100)).toBeUndefined();
    expect(offsets(tail.read(1, 4, 100))).toEqual([4, 5, 6, 7]);
    // both chunks read twice: nothing kept, the end still known, the next chunk continues it
    expect(tail.read(1, 4, 100)).toBeUndefined();
    expect(tail.end(1)).toBe(8);
    add(tail, 1, 8, 2, 1);
    expect(offsets(tail.read(1, 8, 100))).toEqual([8, 9]);
    // nobody reads the topic here: only the end is kept
    add(tail, 1, 10, 3, 0);
    expect(tail.read(1, 10, 100)).toBeUndefined();
    expect(tail.end(1)).toBe(13);
  });

  it('forgets everything', () => {
    const tail = createTail(1 << 20);
    add(tail, 1, 0, 2);
    add(tail, 2, 0, 2);
    expect(offsets(tail.read(2, 0, 10))).toEqual([0, 1]);
    tail.clear();
    expect(tail.read(1, 0, 10)).toBeUndefined();
    expect(tail.read(2, 0, 10)).toBeUndefined();
  });
});

describe('keptHeaders', () => {
  it('freezes headers as read from the file, one shared empty object for none', () => {
    const none = keptHeaders(undefined);
    expect(Object.isFrozen(none)).toBe(true);
    expect(keptHeaders({})).toBe(none);
    const some = { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' };
    expect(keptHeaders(some)).toBe(some);
    expect(Object.isFrozen(some)).toBe(true);
  });
});
