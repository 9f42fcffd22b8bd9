import { markAllHandled, uuidv7 } from '@herald/core';
import { expect } from 'vitest';
import { ids, outboxFields, type StoreFixture } from './fixture.js';

const sorted = (values: readonly string[]) => [...values].sort();

/** App write, outbox records and inbox mark made in one transaction are all there after it commits. */
export async function commitsTogether<Tx>(f: StoreFixture<Tx>): Promise<void> {
  const records = [f.record('order-1'), f.record('order-2')];
  const eventId = uuidv7();
  const handledAt = f.clock.now();
  const result = await f.stores.transaction(async (tx) => {
    await f.harness.writeEffect(tx, 'effect-1');
    await f.stores.outbox.append(tx, records);
    expect(await f.stores.inbox.markHandled(tx, { group: 'billing', eventId, handledAt })).toBe(true);
    return 'done';
  });
  expect(result).toBe('done');
  expect(await f.harness.readEffects()).toEqual(['effect-1']);
  expect((await f.claim('relay-a')).map(outboxFields)).toEqual(records);
  expect(await f.stores.inbox.findHandled([eventId])).toEqual([{ group: 'billing', eventId, handledAt }]);
}

/** A work that throws leaves nothing behind, and the transaction rejects with its error. */
export async function rollsBackTogether<Tx>(f: StoreFixture<Tx>): Promise<void> {
  const eventId = uuidv7();
  const failure = new Error('boom after writing');
  const outcome = f.stores.transaction(async (tx) => {
    await f.harness.writeEffect(tx, 'effect-1');
    await f.stores.outbox.append(tx, [f.record('order-1')]);
    await f.stores.inbox.markHandled(tx, { group: 'billing', eventId, handledAt: f.clock.now() });
    throw failure;
  });
  await expect(outcome).rejects.toThrow('boom after writing');
  expect(await f.harness.readEffects()).toEqual([]);
  expect(await f.claim('relay-a')).toEqual([]);
  expect(await f.stores.inbox.findHandled([eventId])).toEqual([]);
  const markedAgain = await f.stores.transaction((tx) => f.stores.inbox.markHandled(tx, { group: 'billing', eventId, handledAt: f.clock.now() }));
  expect(markedAgain, 'a rolled-back mark is not there').toBe(true);
}

/** 40 transactions at once, every fourth failing at its end: each is all or nothing. */
export async function concurrentTransactions<Tx>(f: StoreFixture<Tx>): Promise<void> {
  const runs = Array.from({ length: 40 }, (_, i) => ({ i, record: f.record(`order-${i}`), eventId: uuidv7(), fails: i % 4 === 0 }));
  const outcomes = await Promise.allSettled(
    runs.map(({ i, record, eventId, fails }) =>
      f.stores.transaction(async (tx) => {
        await f.harness.writeEffect(tx, `effect-${i}`);
        await f.stores.outbox.append(tx, [record]);
        await f.stores.inbox.markHandled(tx, { group: 'billing', eventId, handledAt: f.clock.now() });
        await new Promise((resolve) => setTimeout(resolve, i % 3));
        if (fails) throw new Error(`transaction ${i} fails`);
      }),
    ),
  );
  const committed = runs.filter((r) => !r.fails);
  expect(outcomes.map((o) => o.status)).toEqual(runs.map((r) => (r.fails ? 'rejected' : 'fulfilled')));
  expect(sorted(await f.harness.readEffects())).toEqual(sorted(committed.map((r) => `effect-${r.i}`)));
  expect(sorted(ids(await f.claim('relay-a')))).toEqual(sorted(committed.map((r) => r.record.id)));
  const handled = await f.stores.inbox.findHandled(runs.map((r) => r.eventId));
  expect(sorted(handled.map((h) => h.eventId))).toEqual(sorted(committed.map((r) => r.eventId)));
}

/** A mark is kept per (group, event id): again in the same or a later transaction is false, another group is true. */
export async function marksOncePerGroup<Tx>(f: StoreFixture<Tx>): Promise<void> {
  const eventId = uuidv7();
  const other = uuidv7();
  const mark = (tx: Tx, group: string) => f.stores.inbox.markHandled(tx, { group, eventId, handledAt: f.clock.now() });
  expect(await f.stores.transaction(async (tx) => [await mark(tx, 'billing'), await mark(tx, 'billing')])).toEqual([true, false]);
  expect(await f.stores.transaction((tx) => mark(tx, 'billing'))).toBe(false);
  expect(await f.stores.transaction((tx) => mark(tx, 'shipping'))).toBe(true);
  const found = await f.stores.inbox.findHandled([eventId, other]);
  expect(found.map((e) => `${e.group}/${e.eventId}`).sort()).toEqual([`billing/${eventId}`, `shipping/${eventId}`]);
  expect(await f.stores.inbox.findHandled([])).toEqual([]);
}

/**
 * Many marks at once (`markHandledMany` where the inbox has it): only the new ones come back, a
 * mark already committed or repeated in the call counts once, and a rolled-back call leaves none.
 */
export async function marksMany<Tx>(f: StoreFixture<Tx>): Promise<void> {
  const [a, b, c, d] = [uuidv7(), uuidv7(), uuidv7(), uuidv7()];
  const entries = (...ids: string[]) => ids.map((eventId) => ({ group: 'billing', eventId, handledAt: f.clock.now() }));
  const fresh = (...ids: string[]) => f.stores.transaction((tx) => markAllHandled(f.stores.inbox, tx, entries(...ids)));
  expect([...(await fresh(a, b))].sort()).toEqual([a, b].sort());
  expect([...(await fresh(b, c, a, c))]).toEqual([c]);
  await expect(
    f.stores.transaction(async (tx) => {
      await markAllHandled(f.stores.inbox, tx, entries(d));
      throw new Error('rolled back');
    }),
  ).rejects.toThrow('rolled back');
  expect([...(await fresh(d))]).toEqual([d]);
  expect([...(await fresh())]).toEqual([]);
  // a call larger than a store's statement or round trip: committed marks and a repeat far apart
  const many = Array.from({ length: 150 }, () => uuidv7());
  expect((await fresh(...many.slice(0, 70))).size).toBe(70);
  expect([...(await fresh(...many, many[140]!, a))].sort()).toEqual(many.slice(70).sort());
}

/**
 * Ten transactions at once mark the same event and write an effect when the mark is theirs; the
 * even ones then fail. Exactly one effect and one mark are committed.
 */
export async function marksOnceUnderConcurrency<Tx>(f: StoreFixture<Tx>): Promise<void> {
  const eventId = uuidv7();
  await Promise.allSettled(
    Array.from({ length: 10 }, (_, i) =>
      f.stores.transaction(async (tx) => {
        const mine = await f.stores.inbox.markHandled(tx, { group: 'billing', eventId, handledAt: f.clock.now() });
        if (mine) await f.harness.writeEffect(tx, `effect-${i}`);
        await new Promise((resolve) => setTimeout(resolve, 2));
        if (i % 2 === 0) throw new Error(`transaction ${i} fails`);
      }),
    ),
  );
  const effects = await f.harness.readEffects();
  expect(effects).toHaveLength(1);
  expect(Number(effects[0]!.slice('effect-'.length)) % 2, 'the committed effect is from a transaction that committed').toBe(1);
  expect(await f.stores.inbox.findHandled([eventId])).toHaveLength(1);
}

/** Committed data survives closing and reopening the stores. */
export async function persistsAcrossReopen<Tx>(f: StoreFixture<Tx>): Promise<void> {
  const published = f.record('order-1');
  const waiting = f.record('order-2');
  const eventId = uuidv7();
  const letter = f.letter({});
  await f.stores.transaction(async (tx) => {
    await f.harness.writeEffect(tx, 'effect-1');
    await f.stores.outbox.append(tx, [published, waiting]);
    await f.stores.inbox.markHandled(tx, { group: 'billing', eventId, handledAt: f.clock.now() });
  });
  await f.stores.deadLetters.add(letter);
  await f.claim('relay-a', 1);
  await f.stores.outbox.markPublished('relay-a', [published.id]);

  await f.reopen();
  expect(await f.harness.readEffects()).toEqual(['effect-1']);
  expect(ids(await f.claim('relay-b'))).toEqual([waiting.id]);
  const entries = await f.stores.outbox.findByCorrelation(published.correlationId);
  expect(entries.map((e) => e.publishedAt !== null)).toEqual([true]);
  expect(await f.stores.inbox.findHandled([eventId])).toHaveLength(1);
  expect(await f.stores.deadLetters.list()).toEqual([letter]);
}
