import { uuidv7 } from '@herald/core';
import { expect } from 'vitest';
import { ids, type StoreFixture } from './fixture.js';

/** Four letters covering groups, handlers, keys, statuses and an unreadable envelope (null id and type). */
function letters<Tx>(f: StoreFixture<Tx>) {
  return [
    f.letter({ group: 'billing', handler: 'billing:OrderPlaced', key: 'k1' }),
    f.letter({ group: 'billing', handler: 'billing:OrderPaid', key: 'k2', policy: 'park-key' }),
    f.letter({ group: 'shipping', handler: 'billing:OrderPlaced', key: 'k1', policy: 'park-key', status: 'parked', reason: 'parked' }),
    f.letter({ group: 'billing', handler: 'billing:OrderPlaced', key: 'k1', eventId: null, eventType: null, reason: 'malformed-envelope', error: { name: 'HeraldError', message: 'not JSON' }, headers: {} }),
  ];
}

/** Letters round-trip untouched and list in the order they were added, filtered by every field. */
export async function listsDeadLetters<Tx>(f: StoreFixture<Tx>): Promise<void> {
  const [l1, l2, l3, l4] = letters(f);
  for (const letter of [l1!, l2!, l3!, l4!]) await f.stores.deadLetters.add(letter);
  const list = f.stores.deadLetters.list.bind(f.stores.deadLetters);
  expect(await list()).toEqual([l1, l2, l3, l4]);
  expect(ids(await list({ group: 'billing' }))).toEqual(ids([l1!, l2!, l4!]));
  expect(ids(await list({ handler: 'billing:OrderPlaced' }))).toEqual(ids([l1!, l3!, l4!]));
  expect(ids(await list({ group: 'billing', key: 'k1' }))).toEqual(ids([l1!, l4!]));
  expect(ids(await list({ status: 'parked' }))).toEqual(ids([l3!]));
  expect(ids(await list({ ids: [l4!.id, l1!.id, uuidv7()] }))).toEqual(ids([l1!, l4!]));
  expect(ids(await list({ limit: 2 }))).toEqual(ids([l1!, l2!]));
  expect(ids(await list({ group: 'billing', handler: 'billing:OrderPlaced', limit: 1 }))).toEqual(ids([l1!]));
  expect(await list({ group: 'nobody' })).toEqual([]);
}

/** isKeyParked sees park-key letters that are dead or parked, per group, topic and key; setStatus changes them. */
export async function parksKeys<Tx>(f: StoreFixture<Tx>): Promise<void> {
  const [l1, l2, l3, l4] = letters(f);
  for (const letter of [l1!, l2!, l3!, l4!]) await f.stores.deadLetters.add(letter);
  const parked = (group: string, key: string, topic = 'orders') => f.stores.deadLetters.isKeyParked(group, topic, key);
  expect(await parked('billing', 'k2'), 'park-key letter, dead').toBe(true);
  expect(await parked('shipping', 'k1'), 'park-key letter, parked').toBe(true);
  expect(await parked('billing', 'k1'), 'only skip letters').toBe(false);
  expect(await parked('shipping', 'k2'), 'other group').toBe(false);
  expect(await parked('billing', 'k2', 'payments'), 'other topic').toBe(false);

  await f.stores.deadLetters.setStatus([l2!.id], 'redriven');
  expect(await parked('billing', 'k2'), 'redriven letters park nothing').toBe(false);
  await f.stores.deadLetters.setStatus([l3!.id], 'dead');
  expect(await parked('shipping', 'k1'), 'a dead park-key letter still parks').toBe(true);
  expect(await f.stores.deadLetters.list({ status: 'redriven' })).toEqual([{ ...l2, status: 'redriven' }]);
  expect((await f.stores.deadLetters.list({ ids: [l3!.id] }))[0]?.status).toBe('dead');
  expect(ids(await f.stores.deadLetters.list()), 'setStatus keeps the order').toEqual(ids([l1!, l2!, l3!, l4!]));
}

/**
 * A record (topic, partition, offset and the event read there) has at most one open letter per
 * group: adding another, as a redelivery of a record that failed again does, adds nothing and
 * resolves with the one kept; once that one is resolved the record may have a new one. Adding an
 * id that is stored changes nothing and resolves with the stored letter.
 */
export async function keepsOneOpenLetterPerRecord<Tx>(f: StoreFixture<Tx>): Promise<void> {
  const store = f.stores.deadLetters;
  const list = async () => store.list();
  const first = f.letter({ offset: 7 });
  expect(await store.add(first), 'a new letter').toBeUndefined();
  const again = f.letter({ offset: 7, eventId: first.eventId, attempts: 1, lastFailureAt: first.lastFailureAt + 1000 });
  expect(await store.add(again), 'the record failed again: its open letter is kept').toEqual(first);
  expect(await list()).toEqual([first]);

  // another group, another event at the offset (a topic created again), another partition or offset: other records
  const others = [
    f.letter({ offset: 7, eventId: first.eventId, group: 'shipping' }),
    f.letter({ offset: 7 }),
    f.letter({ offset: 7, eventId: first.eventId, partition: 2 }),
    f.letter({ offset: 8, eventId: first.eventId }),
  ];
  for (const other of others) expect(await store.add(other)).toBeUndefined();

  // a record whose event could not be read is one record too
  const unreadable = f.letter({ offset: 9, eventId: null, eventType: null, reason: 'malformed-envelope' });
  expect(await store.add(unreadable)).toBeUndefined();
  expect(await store.add(f.letter({ offset: 9, eventId: null, eventType: null, reason: 'malformed-envelope' }))).toEqual(unreadable);

  // a parked letter is open too
  const parked = f.letter({ offset: 10, policy: 'park-key', status: 'parked', reason: 'parked' });
  expect(await store.add(parked)).toBeUndefined();
  expect(await store.add({ ...parked, id: uuidv7(), status: 'dead', reason: 'handler-failed' })).toEqual(parked);
  expect(await list()).toEqual([first, ...others, unreadable, parked]);

  // resolved, the record may fail again: a new letter
  await store.setStatus([first.id], 'redriven');
  const later = f.letter({ offset: 7, eventId: first.eventId });
  expect(await store.add(later), 'a letter after the redrive').toBeUndefined();
  expect(await store.add(f.letter({ offset: 7, eventId: first.eventId }))).toEqual(later);

  // an id already stored: the stored letter stands, resolved or open
  const redriven = { ...first, status: 'redriven' as const };
  expect(await store.add({ ...first, attempts: 9, status: 'dead' }), 'a resolved letter is not reopened').toEqual(redriven);
  expect(await store.add({ ...later, attempts: 9, error: { name: 'Error', message: 'other' } })).toEqual(later);
  expect(await list(), 'nothing changed, in the order they were added').toEqual([redriven, ...others, unreadable, parked, later]);
  if (f.harness.reopen) {
    await f.reopen();
    expect(await f.stores.deadLetters.add({ ...f.letter({ offset: 7, eventId: first.eventId }) }), 'kept across reopen').toEqual(later);
  }
}

/**
 * `setStatus` reopens (`dead`, `parked`) a resolved letter only when its record has no open letter
 * in its group, so a record never has two: it leaves the others as they are and resolves with their
 * ids. Of several resolved letters of one record, the one added first is reopened. A letter already
 * open may change between `dead` and `parked`; resolving is never refused.
 */
export async function reopensOnlyALetterWhoseRecordHasNoOpenOne<Tx>(f: StoreFixture<Tx>): Promise<void> {
  const store = f.stores.deadLetters;
  const statuses = async () => (await store.list()).map((l) => l.status);
  const first = f.letter({ offset: 7 });
  const other = f.letter({ offset: 8 });
  for (const letter of [first, other]) await store.add(letter);
  expect(await store.setStatus([first.id, other.id], 'discarded'), 'resolving is never refused').toEqual([]);
  // the record failed again (a replay): its new letter is its open one
  const again = f.letter({ offset: 7, eventId: first.eventId });
  expect(await store.add(again)).toBeUndefined();

  expect(await store.setStatus([first.id], 'dead'), 'the record has an open letter: left discarded').toEqual([first.id]);
  expect(await store.setStatus([first.id], 'parked')).toEqual([first.id]);
  expect(await statuses()).toEqual(['discarded', 'discarded', 'dead']);
  // the others in the call change: a record without an open letter, an open letter turning parked
  expect(await store.setStatus([again.id, first.id, other.id, uuidv7()], 'parked')).toEqual([first.id]);
  expect(await statuses()).toEqual(['discarded', 'parked', 'parked']);
  expect(await store.list({ status: 'parked' }), 'a reopened letter is untouched but for its status').toEqual([
    { ...other, status: 'parked' },
    { ...again, status: 'parked' },
  ]);

  // once the open letter is resolved, a resolved letter of the record is reopened: the one added first
  expect(await store.setStatus([again.id], 'redriven')).toEqual([]);
  expect(await store.setStatus([again.id, first.id], 'dead'), 'the later one left out, in any order').toEqual([again.id]);
  expect(await statuses()).toEqual(['dead', 'parked', 'redriven']);
  expect(await store.add(f.letter({ offset: 7, eventId: first.eventId })), 'the reopened letter is the open one').toEqual({ ...first, status: 'dead' });

  // a record whose event could not be read is one record too
  const unreadable = f.letter({ offset: 9, eventId: null, eventType: null, reason: 'malformed-envelope' });
  await store.add(unreadable);
  await store.setStatus([unreadable.id], 'redriven');
  await store.add(f.letter({ offset: 9, eventId: null, eventType: null, reason: 'malformed-envelope' }));
  expect(await store.setStatus([unreadable.id], 'dead')).toEqual([unreadable.id]);
  expect(await store.list({ ids: [unreadable.id] })).toEqual([{ ...unreadable, status: 'redriven' }]);
}
