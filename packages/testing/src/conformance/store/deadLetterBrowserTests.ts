import { uuidv7, type DeadLetter, type DeadLetterBrowser, type DeadLetterQuery, type DeadLetterStore, type Stores } from '@herald/core';
import { expect } from 'vitest';
import { ids, type StoreFixture } from './fixture.js';

/** Stores whose dead letter store can be browsed. */
export type BrowsableStores<Tx> = Stores<Tx> & { readonly deadLetters: DeadLetterStore & DeadLetterBrowser };
type F<Tx> = StoreFixture<Tx, BrowsableStores<Tx>>;

/** Adds letters one by one (so "the order they were added" is this order) and returns them. */
async function addAll<Tx>(f: F<Tx>, letters: readonly DeadLetter[]): Promise<DeadLetter[]> {
  for (const letter of letters) await f.stores.deadLetters.add(letter);
  return [...letters];
}

const numbered = <Tx>(f: F<Tx>, count: number, fields: Partial<DeadLetter> = {}) =>
  Array.from({ length: count }, (_, i) => f.letter({ key: `key-${i}`, ...fields }));

/** Pages follow the order letters were added; a cursor continues where its page ended, whatever was added meanwhile. */
export async function pagesWithCursor<Tx>(f: F<Tx>): Promise<void> {
  const browser = f.stores.deadLetters;
  expect(await browser.page(), 'an empty store').toEqual({ letters: [], next: null });
  const first = await addAll(f, numbered(f, 7));

  const p1 = await browser.page({ limit: 3 });
  expect(p1.letters, 'letters come back whole').toEqual(first.slice(0, 3));
  expect(typeof p1.next).toBe('string');
  const p2 = await browser.page({ limit: 3, cursor: p1.next! });
  expect(ids(p2.letters)).toEqual(ids(first.slice(3, 6)));

  const later = await addAll(f, numbered(f, 2, { group: 'shipping' }));
  expect(await browser.page({ limit: 3, cursor: p1.next! }), 'a cursor reads the same page again').toEqual(p2);
  const p3 = await browser.page({ limit: 3, cursor: p2.next! });
  expect(ids(p3.letters), 'letters added between pages come last').toEqual(ids([first[6]!, ...later]));
  expect(p3.next, 'the last page').toBeNull();

  // a filter holds across pages: the cursor skips letters that do not match
  const shipping = await addAll(f, [f.letter({ group: 'shipping' }), f.letter({}), f.letter({ group: 'shipping' })]);
  const s1 = await browser.page({ group: 'shipping', limit: 2 });
  expect(ids(s1.letters)).toEqual(ids(later));
  const s2 = await browser.page({ group: 'shipping', limit: 2, cursor: s1.next! });
  expect(ids(s2.letters)).toEqual(ids([shipping[0]!, shipping[2]!]));
  expect(s2.next).toBeNull();
}

/** Without a limit a page holds 100 letters; up to 1 000 may be asked for. */
export async function pagesByDefaultSize<Tx>(f: F<Tx>): Promise<void> {
  const browser = f.stores.deadLetters;
  const letters = numbered(f, 150);
  await Promise.all(letters.map((letter) => browser.add(letter)));
  const p1 = await browser.page();
  expect(p1.letters).toHaveLength(100);
  expect(p1.next).not.toBeNull();
  const p2 = await browser.page({ cursor: p1.next! });
  expect(p2.letters).toHaveLength(50);
  expect(p2.next).toBeNull();
  const seen = [...ids(p1.letters), ...ids(p2.letters)];
  expect(new Set(seen).size, 'no letter on two pages').toBe(150);
  expect([...seen].sort()).toEqual(ids(letters).sort());
  expect(ids((await browser.page({ limit: 1000 })).letters), 'one page of up to 1 000').toEqual(seen);
  expect((await browser.page({ limit: 1 })).letters).toHaveLength(1);
}

/** Every query field narrows pages and counts alike; fields combine. */
export async function filtersAndCounts<Tx>(f: F<Tx>): Promise<void> {
  const t = f.clock.now();
  const [a, b, c, d] = await addAll(f, [
    f.letter({ group: 'billing', handler: 'billing:OrderPlaced', topic: 'orders', key: 'k1', eventType: 'OrderPlaced', reason: 'handler-failed', fingerprint: 'fp-a', status: 'dead', lastFailureAt: t - 3000 }),
    f.letter({ group: 'billing', handler: 'billing:OrderPaid', topic: 'payments', key: 'k2', eventType: 'OrderPaid', reason: 'timeout', fingerprint: 'fp-b', status: 'parked', policy: 'park-key', lastFailureAt: t - 2000 }),
    f.letter({ group: 'shipping', handler: 'shipping:OrderPlaced', topic: 'orders', key: 'k2', eventId: null, eventType: null, reason: 'malformed-envelope', fingerprint: 'fp-c', status: 'redriven', lastFailureAt: t - 1000 }),
    f.letter({ group: 'shipping', handler: 'shipping:OrderPlaced', topic: 'orders', key: 'k1', eventType: 'OrderPlaced', reason: 'handler-failed', fingerprint: 'fp-a', status: 'discarded', lastFailureAt: t }),
  ]);
  const cases: readonly [DeadLetterQuery, readonly DeadLetter[]][] = [
    [{}, [a!, b!, c!, d!]],
    [{ group: 'billing' }, [a!, b!]],
    [{ handler: 'shipping:OrderPlaced' }, [c!, d!]],
    [{ topic: 'payments' }, [b!]],
    [{ key: 'k1' }, [a!, d!]],
    [{ eventType: 'OrderPlaced' }, [a!, d!]],
    [{ reason: 'handler-failed' }, [a!, d!]],
    [{ fingerprint: 'fp-a' }, [a!, d!]],
    [{ status: 'parked' }, [b!]],
    [{ status: ['dead', 'redriven'] }, [a!, c!]],
    [{ status: [] }, []],
    [{ since: t - 2000 }, [b!, c!, d!]],
    [{ until: t - 1000 }, [a!, b!]],
    [{ since: t - 2000, until: t }, [b!, c!]],
    [{ group: 'shipping', key: 'k1' }, [d!]],
    [{ topic: 'orders', fingerprint: 'fp-a', status: ['dead', 'discarded'] }, [a!, d!]],
    [{ group: 'nobody' }, []],
    [{ fingerprint: '' }, []],
  ];
  const browser = f.stores.deadLetters;
  for (const [query, expected] of cases) {
    const page = await browser.page(query);
    expect(ids(page.letters), `page ${JSON.stringify(query)}`).toEqual(ids(expected));
    expect(page.next).toBeNull();
    expect(await browser.count(query), `count ${JSON.stringify(query)}`).toBe(expected.length);
  }
  expect(await browser.count()).toBe(4);
}

/**
 * Letters group by (group, handler, fingerprint, reason) with their count, first and last failure
 * and the latest letter as sample; largest first, then most recent, then by key.
 */
export async function groupsFailures<Tx>(f: F<Tx>): Promise<void> {
  const t = f.clock.now();
  const failing = (fields: Partial<DeadLetter>, message: string, first: number, last: number) =>
    f.letter({ ...fields, error: { name: 'Error', message, stack: `Error: ${message}` }, firstFailureAt: t - first, lastFailureAt: t - last });
  const g1 = { group: 'billing', handler: 'billing:OrderPlaced', fingerprint: 'fp-a', reason: 'handler-failed' };
  const g2 = { group: 'billing', handler: 'billing:OrderPlaced', fingerprint: 'fp-b', reason: 'timeout' };
  const g3 = { group: 'shipping', handler: 'shipping:OrderPlaced', fingerprint: 'fp-a', reason: 'handler-failed' };
  const g4 = { group: 'billing', handler: 'billing:OrderPaid', fingerprint: '', reason: 'handler-failed' };
  const g5 = { group: 'billing', handler: 'billing:OrderPaid', fingerprint: '', reason: 'schema-violation' };
  const g6 = { group: 'audit', handler: 'audit:OrderPlaced', fingerprint: 'fp-c', reason: 'handler-failed' };
  const [, g1Latest, , g1Discarded, , g2Latest, g3Latest, , g4Only, g5Only, g6Only] = await addAll(f, [
    failing(g1, 'declined 1', 20_000, 5000),
    failing(g1, 'declined 2', 9000, 1000),
    failing(g1, 'declined 3', 8000, 3000),
    failing({ ...g1, status: 'discarded' }, 'declined 4', 30_000, 0),
    failing(g2, 'slow 1', 12_000, 4000),
    failing(g2, 'slow 2', 11_000, 4000),
    failing(g3, 'no address 1', 10_000, 2000),
    failing(g3, 'no address 2', 7000, 6000),
    failing(g4, 'legacy failure', 7000, 7000),
    failing({ ...g5, status: 'parked' }, 'legacy schema', 7000, 7000),
    failing(g6, 'audit down', 500, 500),
  ]);
  const group = (key: typeof g1, count: number, first: number, last: number, sample: DeadLetter) => ({
    ...key,
    count,
    firstFailureAt: t - first,
    lastFailureAt: t - last,
    sample: { id: sample.id, message: sample.error.message },
  });
  const open = await f.stores.deadLetters.groups({ status: ['dead', 'parked'] });
  expect(open).toEqual([
    group(g1, 3, 20_000, 1000, g1Latest!),
    group(g3, 2, 10_000, 2000, g3Latest!),
    group(g2, 2, 12_000, 4000, g2Latest!), // equal last failures: the last added is the sample
    group(g6, 1, 500, 500, g6Only!),
    group(g4, 1, 7000, 7000, g4Only!), // letters from before fingerprints: told apart by reason
    group(g5, 1, 7000, 7000, g5Only!),
  ]);
  const all = await f.stores.deadLetters.groups();
  expect(all[0], 'without a filter the discarded letter counts, and is the latest').toEqual(group(g1, 4, 30_000, 0, g1Discarded!));
  expect(all.slice(1)).toEqual(open.slice(1));
  expect(await f.stores.deadLetters.groups({ group: 'shipping' })).toEqual([group(g3, 2, 10_000, 2000, g3Latest!)]);
  expect(await f.stores.deadLetters.groups({ group: 'nobody' })).toEqual([]);
}

/** discard changes dead and parked letters only, says how many, and releases a parked key. */
export async function discards<Tx>(f: F<Tx>): Promise<void> {
  const letters = f.stores.deadLetters;
  const [dead, parked, redriven, discarded, untouched] = await addAll(f, [
    f.letter({ key: 'k1' }),
    f.letter({ key: 'kp', policy: 'park-key', status: 'parked', reason: 'parked-behind-key' }),
    f.letter({ key: 'k3', status: 'redriven' }),
    f.letter({ key: 'k4', status: 'discarded' }),
    f.letter({ key: 'k5' }),
  ]);
  expect(await letters.isKeyParked('billing', 'orders', 'kp')).toBe(true);
  const asked = [dead!.id, parked!.id, redriven!.id, discarded!.id, uuidv7(), dead!.id];
  expect(await letters.discard(asked), 'only the dead and the parked letter change').toBe(2);
  expect(await letters.discard(asked), 'discarding again changes nothing').toBe(0);
  expect(await letters.discard([])).toBe(0);

  const status = async (letter: DeadLetter) => (await letters.list({ ids: [letter.id] }))[0]?.status;
  expect(await status(dead!)).toBe('discarded');
  expect(await status(parked!)).toBe('discarded');
  expect(await status(redriven!), 'a redriven letter stays redriven').toBe('redriven');
  expect(await status(discarded!)).toBe('discarded');
  expect(await status(untouched!)).toBe('dead');
  expect(await letters.list({ ids: [dead!.id] }), 'nothing else changes').toEqual([{ ...dead!, status: 'discarded' }]);
  expect(await letters.isKeyParked('billing', 'orders', 'kp'), 'a discarded letter parks its key no more').toBe(false);
  expect(await letters.count({ status: 'discarded' })).toBe(3);
  expect(ids((await letters.page()).letters), 'discarding keeps the order').toEqual(ids([dead!, parked!, redriven!, discarded!, untouched!]));
}

/** Cursors the store did not make, limits outside 1..1000 and malformed query fields are refused with invalid-options. */
export async function refusesBadRequests<Tx>(f: F<Tx>): Promise<void> {
  const browser = f.stores.deadLetters;
  await addAll(f, numbered(f, 3));
  const refused = async (what: string, call: () => Promise<unknown>) => {
    await expect(call(), what).rejects.toMatchObject({ code: 'invalid-options' });
  };
  for (const cursor of ['', 'not a cursor', '12', '{"after":1}']) await refused(`cursor ${JSON.stringify(cursor)}`, () => browser.page({ cursor }));
  for (const limit of [0, -1, 1001, 2.5, Number.NaN]) await refused(`limit ${limit}`, () => browser.page({ limit }));
  const malformed = [{ status: 'gone' }, { status: ['dead', 'gone'] }, { since: Number.NaN }, { group: 7 }] as unknown as DeadLetterQuery[];
  for (const query of malformed) {
    await refused(`page ${JSON.stringify(query)}`, () => browser.page(query));
    await refused(`count ${JSON.stringify(query)}`, () => browser.count(query));
    await refused(`groups ${JSON.stringify(query)}`, () => browser.groups(query));
  }
  const { next } = await browser.page({ limit: 1 });
  expect((await browser.page({ cursor: next!, limit: 1000 })).letters, 'a valid cursor and the largest limit').toHaveLength(2);
}

/** A discard is durable: the letter is still discarded after a reopen, and reads the same. */
export async function persistsDiscards<Tx>(f: F<Tx>): Promise<void> {
  const [kept, thrownAway] = await addAll(f, [f.letter({ key: 'k1' }), f.letter({ key: 'k2', policy: 'park-key' })]);
  expect(await f.stores.deadLetters.discard([thrownAway!.id])).toBe(1);
  await f.reopen();
  const browser = f.stores.deadLetters;
  expect((await browser.page()).letters).toEqual([kept, { ...thrownAway!, status: 'discarded' }]);
  expect(await browser.count({ status: 'discarded' })).toBe(1);
  expect(await browser.isKeyParked('billing', 'orders', 'k2')).toBe(false);
  expect(await browser.discard([thrownAway!.id]), 'still discarded: nothing to change').toBe(0);
}
