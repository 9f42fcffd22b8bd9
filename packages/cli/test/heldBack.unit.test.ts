import { describe, expect, it } from 'vitest';
import type { Clock, DeadLetterPage, DeadLetterPageRequest } from '@herald/core';
import { selectLetters } from '../src/redrivePlan.js';
import { letter } from './support.js';

// A store may hold a page back (PostgreSQL stops a page before letters of transactions newer than
// one still running): an empty page that goes on. A selection waits for it, a bounded time.

/** A clock whose sleeps pass at once, counting the time they stand for. */
function fastClock(): Pick<Clock, 'now' | 'sleep'> & { slept: number[] } {
  let now = 0;
  const slept: number[] = [];
  return {
    slept,
    now: () => now,
    sleep: async (ms) => {
      slept.push(ms);
      now += ms;
    },
  };
}

/** A store whose pages are `pages`, in turn; the last one repeats. */
function storeOf(pages: readonly DeadLetterPage[]) {
  const requests: DeadLetterPageRequest[] = [];
  const store = {
    page: async (request: DeadLetterPageRequest) => {
      requests.push(request);
      return pages[Math.min(requests.length - 1, pages.length - 1)]!;
    },
  };
  return { store: store as unknown as Parameters<typeof selectLetters>[0], requests };
}

const selection = { ids: [], query: { group: 'billing' }, statuses: ['dead', 'parked'] as const };

describe('selecting letters from a store that holds pages back', () => {
  it('waits, backing off, until the held letters come, and reads each once', async () => {
    const [a, b] = [letter({ key: 'a' }), letter({ key: 'b' })];
    const held = { letters: [], next: 'c1' };
    const { store, requests } = storeOf([{ letters: [a], next: 'c1' }, held, held, held, { letters: [b], next: null }]);
    const clock = fastClock();
    expect(await selectLetters(store, { ...selection, statuses: [...selection.statuses] }, { clock })).toEqual([a, b]);
    expect(requests.map((r) => r.cursor)).toEqual([undefined, 'c1', 'c1', 'c1', 'c1']);
    expect(clock.slept).toEqual([200, 200, 200]);
  });

  it('fails with held-back once the wait passes its bound, having changed nothing', async () => {
    const { store } = storeOf([{ letters: [letter()], next: 'c1' }, { letters: [], next: 'c1' }]);
    const clock = fastClock();
    await expect(selectLetters(store, { ...selection, statuses: [...selection.statuses] }, { clock, heldBackMs: 5_000 })).rejects.toThrowError(
      expect.objectContaining({ code: 'held-back', message: expect.stringContaining('waited 5 s for a transaction still running to end: the dead letters after the 1 read so far') }),
    );
    expect(clock.slept.slice(0, 6), 'backs off').toEqual([200, 200, 200, 200, 200, 400]);
    expect(clock.slept.reduce((sum, ms) => sum + ms, 0), 'no longer than the bound').toBe(5_000);
  });

  it('stops waiting on Ctrl-C with interrupted', async () => {
    const stop = new AbortController();
    const { store } = storeOf([{ letters: [], next: 'c1' }]);
    const clock: Pick<Clock, 'now' | 'sleep'> = { now: () => 0, sleep: async () => stop.abort() };
    await expect(selectLetters(store, { ...selection, statuses: [...selection.statuses] }, { clock, signal: stop.signal })).rejects.toThrowError(
      expect.objectContaining({ code: 'interrupted' }),
    );
  });
});
