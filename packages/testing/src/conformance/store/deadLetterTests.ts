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
