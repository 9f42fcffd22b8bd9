import { expect } from 'vitest';
import { isHeraldError, type StoredWindow, type Stores, type WindowChange, type WindowPartitionState, type WindowStores } from '@herald/core';
import type { StoreFixture } from './fixture.js';

type F<Tx> = StoreFixture<Tx, Stores<Tx> & WindowStores<Tx>>;

const P0 = { store: 'clicks.per-minute', partition: 0 };
const w = (key: string, start: number, value: string, closeAt = start + 60_000 + 5_000): StoredWindow => ({ key, start, end: start + 60_000, closeAt, value });

/** One update in its own transaction; returns what `change` saw and what the update closed. */
async function update<Tx>(f: F<Tx>, keys: readonly string[], change: (state: WindowPartitionState) => WindowChange | undefined, partition = P0) {
  let seen: WindowPartitionState | undefined;
  const closed = await f.stores.transaction((tx) =>
    f.stores.windows.update(tx, partition, keys, (state) => {
      seen = state;
      return change(state);
    }),
  );
  return { seen: seen!, closed };
}

/** A new partition reads empty; windows and stream time written in one update are read back, byte for byte. */
export async function writesAndReads<Tx>(f: F<Tx>): Promise<void> {
  const value = JSON.stringify({ count: 2, users: ['u-1', 'ü-2 ✓ 𝄞'] });
  const first = await update(f, ['k1'], () => ({ streamTime: 1_000, put: [w('k1', 0, value), w('k2', 60_000, '{"count":1}')] }));
  expect(first.seen).toEqual({ streamTime: undefined, windows: [] });
  expect(first.closed).toEqual([]);
  const second = await update(f, ['k1', 'k2'], () => undefined);
  expect(second.seen).toEqual({ streamTime: 1_000, windows: [w('k1', 0, value), w('k2', 60_000, '{"count":1}')] });
  expect(await f.stores.windows.read(P0.store)).toEqual({
    partitions: [{ partition: 0, streamTime: 1_000, late: 0 }],
    windows: [{ ...w('k1', 0, value), partition: 0 }, { ...w('k2', 60_000, '{"count":1}'), partition: 0 }],
  });
}

/** Only the keys asked for are read, in (key, start) order; a put replaces the window of its key and start; deletes apply. */
export async function readsKeysReplacesAndDeletes<Tx>(f: F<Tx>): Promise<void> {
  await update(f, [], () => ({ streamTime: 10, put: [w('b', 120_000, 'b2'), w('a', 60_000, 'a1'), w('b', 0, 'b0'), w('c', 0, 'c0'), w('a', 0, 'a0')] }));
  const read = await update(f, ['b', 'a', 'missing'], () => ({
    streamTime: 20,
    put: [w('a', 0, 'a0-first'), w('a', 0, 'a0-second'), w('b', 240_000, 'b4')],
    delete: [{ key: 'b', start: 0 }, { key: 'c', start: 0 }, { key: 'a', start: 0 }],
  }));
  expect(read.seen.windows.map((x) => `${x.key}@${x.start}=${x.value}`)).toEqual(['a@0=a0', 'a@60000=a1', 'b@0=b0', 'b@120000=b2']);
  const after = await update(f, ['a', 'b', 'c'], () => undefined);
  expect(after.seen.windows.map((x) => `${x.key}@${x.start}=${x.value}`), 'the last put wins over an earlier put and a delete').toEqual([
    'a@0=a0-second',
    'a@60000=a1',
    'b@120000=b2',
    'b@240000=b4',
  ]);
}

/**
 * Moving stream time closes every window whose closeAt it reached, stored ones and ones put by the
 * same change, returning them in (closeAt, key, start) order and removing them; stream time never
 * goes back, and a window put at or below it is closed at once.
 */
export async function closesDueWindows<Tx>(f: F<Tx>): Promise<void> {
  await update(f, [], () => ({ streamTime: 0, put: [w('b', 0, 'b', 100), w('a', 0, 'a', 100), w('c', 0, 'c', 300), w('d', 0, 'd', 200)] }));
  const first = await update(f, [], () => ({ streamTime: 150, put: [w('e', 0, 'e', 120), w('f', 0, 'f', 151)] }));
  expect(first.closed.map((x) => `${x.key}:${x.closeAt}`)).toEqual(['a:100', 'b:100', 'e:120']);
  const back = await update(f, [], () => ({ streamTime: 50, put: [w('g', 0, 'g', 140)] }));
  expect(back.seen.streamTime).toBe(150);
  expect(back.closed.map((x) => x.key), 'closed against the stored, larger stream time').toEqual(['g']);
  const second = await update(f, ['c', 'd', 'f'], () => ({ streamTime: 200 }));
  expect(second.seen.streamTime).toBe(150);
  expect(second.closed).toEqual([w('f', 0, 'f', 151), w('d', 0, 'd', 200)]);
  const snapshot = await f.stores.windows.read(P0.store);
  expect(snapshot.windows.map((x) => x.key)).toEqual(['c']);
  expect(snapshot.partitions).toEqual([{ partition: 0, streamTime: 200, late: 0 }]);
}

/** Late records add up per partition; a change returning undefined writes nothing; a rolled-back update leaves no trace. */
export async function countsLateAndRollsBack<Tx>(f: F<Tx>): Promise<void> {
  await update(f, [], () => ({ streamTime: 100, late: 2 }));
  await update(f, [], () => ({ streamTime: 100, late: 3 }));
  await update(f, ['k'], () => undefined);
  const failing = f.stores.transaction(async (tx) => {
    await f.stores.windows.update(tx, P0, [], () => ({ streamTime: 900, late: 7, put: [w('k', 0, 'lost', 1_000)] }));
    await f.harness.writeEffect(tx, 'lost');
    throw new Error('the batch failed');
  });
  await expect(failing).rejects.toThrow('the batch failed');
  expect(await f.stores.windows.read(P0.store)).toEqual({ partitions: [{ partition: 0, streamTime: 100, late: 5 }], windows: [] });
  expect(await f.harness.readEffects()).toEqual([]);
  const untouched = await f.stores.transaction(async (tx) => f.stores.windows.update(tx, { store: 'never-written', partition: 3 }, ['k'], () => undefined));
  expect(untouched).toEqual([]);
  expect(await f.stores.windows.read('never-written'), 'a partition without stream time is not listed').toEqual({ partitions: [], windows: [] });
}

/**
 * `partitions` answers what `read(...).partitions` does, without the windows: partitions in order
 * with stream time and late count, a partition never given a stream time (touched by a change
 * that wrote nothing) and other aggregations left out, and only what committed.
 */
export async function readsPartitionsAlone<Tx>(f: F<Tx>): Promise<void> {
  const at = (partition: number) => ({ store: P0.store, partition });
  await update(f, [], () => ({ streamTime: 300, put: [w('k', 0, 'open')], late: 2 }), at(2));
  await update(f, [], () => ({ streamTime: 100 }), at(0));
  await update(f, ['k'], () => undefined, at(1));
  await update(f, [], () => ({ streamTime: 999, put: [w('k', 0, 'hour')] }), { store: 'clicks.per-hour', partition: 0 });
  const committed = [
    { partition: 0, streamTime: 100, late: 0 },
    { partition: 2, streamTime: 300, late: 2 },
  ];
  expect(await f.stores.windows.partitions(P0.store)).toEqual(committed);
  expect((await f.stores.windows.read(P0.store)).partitions).toEqual(committed);
  expect(await f.stores.windows.partitions('never-written')).toEqual([]);
  await f.stores.transaction(async (tx) => {
    await f.stores.windows.update(tx, at(0), [], () => ({ streamTime: 500, late: 1 }));
    await f.stores.windows.update(tx, at(3), [], () => ({ streamTime: 50 }));
    expect(await f.stores.windows.partitions(P0.store), 'an update not yet committed is not seen').toEqual(committed);
    expect((await f.stores.windows.read(P0.store)).partitions).toEqual(committed);
  });
  const after = [{ partition: 0, streamTime: 500, late: 1 }, committed[1], { partition: 3, streamTime: 50, late: 0 }];
  expect(await f.stores.windows.partitions(P0.store)).toEqual(after);
  expect((await f.stores.windows.read(P0.store)).partitions).toEqual(after);
}

/** Windows of other partitions and other aggregations are neither read, nor closed, nor listed. */
export async function keepsPartitionsApart<Tx>(f: F<Tx>): Promise<void> {
  const P1 = { store: P0.store, partition: 1 };
  const other = { store: 'clicks.per-hour', partition: 0 };
  await update(f, [], () => ({ streamTime: 0, put: [w('k', 0, 'p0', 100)] }));
  await update(f, [], () => ({ streamTime: 0, put: [w('k', 0, 'p1', 100)] }), P1);
  await update(f, [], () => ({ streamTime: 0, put: [w('k', 0, 'hour', 100)], late: 1 }), other);
  const closed = await update(f, ['k'], () => ({ streamTime: 500 }), P1);
  expect(closed.seen.windows.map((x) => x.value)).toEqual(['p1']);
  expect(closed.closed.map((x) => x.value)).toEqual(['p1']);
  expect(await f.stores.windows.read(P0.store)).toEqual({
    partitions: [{ partition: 0, streamTime: 0, late: 0 }, { partition: 1, streamTime: 500, late: 0 }],
    windows: [{ ...w('k', 0, 'p0', 100), partition: 0 }],
  });
  expect((await f.stores.windows.read(other.store)).windows.map((x) => x.value)).toEqual(['hour']);
}

/**
 * Concurrent transactions updating one partition never interleave: 20 transactions, each waiting
 * a little before and after its update, each adding one to a window's count (read, then write),
 * end with the count at 20; and a transaction that fails after its update leaves the others' sum
 * intact.
 */
export async function serialisesConcurrentUpdates<Tx>(f: F<Tx>): Promise<void> {
  const tick = () => new Promise((resolve) => setTimeout(resolve, Math.random() * 3));
  const once = (fail: boolean) =>
    f.stores.transaction(async (tx) => {
      await tick();
      await f.stores.windows.update(tx, P0, ['k'], (state) => {
        const count = Number(state.windows[0]?.value ?? '0');
        return { streamTime: 1, put: [w('k', 0, String(count + 1), 1_000_000)] };
      });
      await tick();
      if (fail) throw new Error('failed after its update');
    });
  // as the pipeline does: a transaction that lost a race (a retriable error) runs again
  const increment = async (fail: boolean): Promise<void> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await once(fail);
      } catch (error) {
        if (!(isHeraldError(error) && error.retriable) || attempt >= 10) throw error;
      }
    }
  };
  const results = await Promise.allSettled(Array.from({ length: 24 }, (_, i) => increment(i % 6 === 5)));
  expect(results.filter((r) => r.status === 'rejected')).toHaveLength(4);
  const { seen } = await update(f, ['k'], () => undefined);
  expect(seen.windows.map((x) => x.value)).toEqual(['20']);
}

/** Malformed partitions and changes are refused with `invalid-options`, and nothing is written. */
export async function refusesMalformedInput<Tx>(f: F<Tx>): Promise<void> {
  const attempt = (partition: { store: string; partition: number }, change: unknown) =>
    f.stores.transaction((tx) => f.stores.windows.update(tx, partition, ['k'], () => change as WindowChange)).catch((error: unknown) => error);
  const codes = await Promise.all([
    attempt({ store: '', partition: 0 }, { streamTime: 1 }),
    attempt({ store: 's', partition: -1 }, { streamTime: 1 }),
    attempt(P0, { streamTime: 1.5 }),
    attempt(P0, { streamTime: 1, put: [{ key: 'k', start: 0, end: 1, closeAt: Number.NaN, value: 'v' }] }),
    attempt(P0, { streamTime: 1, put: [{ key: 'k', start: 0, end: 1, closeAt: 2, value: 3 }] }),
    attempt(P0, { streamTime: 1, late: -1 }),
  ]);
  for (const error of codes) expect(isHeraldError(error) && error.code, String(error)).toBe('invalid-options');
  expect(await f.stores.windows.read(P0.store)).toEqual({ partitions: [], windows: [] });
}

/** Windows, stream time and late counts survive closing and reopening the stores. */
export async function persistsWindows<Tx>(f: F<Tx>): Promise<void> {
  await update(f, [], () => ({ streamTime: 42, put: [w('k', 0, '{"n":1}')], late: 1 }));
  await f.reopen();
  const { seen } = await update(f, ['k'], () => undefined);
  expect(seen).toEqual({ streamTime: 42, windows: [w('k', 0, '{"n":1}')] });
  expect((await f.stores.windows.read(P0.store)).partitions).toEqual([{ partition: 0, streamTime: 42, late: 1 }]);
  expect(await f.stores.windows.partitions(P0.store)).toEqual([{ partition: 0, streamTime: 42, late: 1 }]);
}
