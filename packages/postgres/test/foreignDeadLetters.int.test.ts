import type { DeadLetter } from '@herald/core';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { migrate, pgStores, type PgStores } from '../src/index.js';
import { MIGRATIONS } from '../src/internal/migrations.js';
import { tablesFor } from '../src/internal/tables.js';
import { usePostgres } from './support.js';

// Dead letters of records any producer wrote: keys and values with U+0000 (Kafka's LongSerializer,
// the Confluent wire format), lone surrogates (which node-postgres would send as U+FFFD), and the
// text their display forms would collide with.
const pgs = usePostgres();

const JAVA_LONG_42 = '\u0000\u0000\u0000\u0000\u0000\u0000\u0000*';
const CONFLUENT_AVRO = '\u0000\u0000\u0000\u0000\u0001\u0002\u0006foo';

/** Letters of one group, all park-key and dead; `n` numbers their ids (added in that order). */
function letter(n: number, key: string, envelope: string, extra: Partial<DeadLetter> = {}): DeadLetter {
  return {
    id: `0190a000-0000-7000-8000-${String(n).padStart(12, '0')}`,
    group: 'billing',
    handler: 'billing:Invoice',
    eventId: null,
    eventType: null,
    topic: 'invoices',
    partition: 1,
    offset: n,
    key,
    reason: 'malformed-envelope',
    fingerprint: 'fp-malformed',
    error: { name: 'HeraldError', message: `malformed envelope: not JSON (${JSON.stringify(envelope.slice(0, 12))})` },
    attempts: 1,
    firstFailureAt: 1_000 + n,
    lastFailureAt: 1_000 + n,
    envelope,
    headers: {},
    policy: 'park-key',
    status: 'dead',
    ...extra,
  };
}

const letters = [
  letter(1, 'a\u0000b', CONFLUENT_AVRO),
  letter(2, 'a\ufffdb', '{"plain":true}'),
  letter(3, JAVA_LONG_42, '{"id":"e3"}'),
  letter(4, 'dup\ud800', 'v\udc00\u0000'),
  letter(5, 'dup\ud801', 'w\ud83d\ude00'),
  letter(6, 'order-1', '{"id":"e6"}', { reason: 'handler-failed', fingerprint: 'fp-handler', error: { name: 'Error', message: 'nul \u0000 and half \ud800 in a message', stack: 'Error\u0000\n    at x' } }),
];

async function storesWithLetters(): Promise<PgStores> {
  const stores = await pgs.stores();
  for (const l of letters) await stores.deadLetters.add(l);
  return stores;
}

describe('dead letters of foreign records', () => {
  it('adds every letter and lists it back exactly, each key finding its own letters only', async () => {
    const stores = await storesWithLetters();
    expect(await stores.deadLetters.list()).toEqual(letters);
    for (const l of letters) {
      expect(await stores.deadLetters.list({ key: l.key }), JSON.stringify(l.key)).toEqual([l]);
      expect(await stores.deadLetters.list({ key: l.key, group: 'billing', status: 'dead' })).toEqual([l]);
      expect(await stores.deadLetters.list({ ids: [l.id] })).toEqual([l]);
    }
    // the display forms themselves are no letter's key but letter 2's
    expect(await stores.deadLetters.list({ key: '\ufffd'.repeat(7) + '*' })).toEqual([]);
    expect(await stores.deadLetters.list({ key: 'dup\ufffd' })).toEqual([]);
    // an id no column could hold is no letter's, and asking is no error
    expect(await stores.deadLetters.list({ ids: ['\u0000', letters[0]!.id] })).toEqual([letters[0]]);
  });

  it('parks exactly the keys of open park-key letters', async () => {
    const stores = await storesWithLetters();
    for (const l of letters) expect(await stores.deadLetters.isKeyParked('billing', 'invoices', l.key), JSON.stringify(l.key)).toBe(true);
    for (const key of ['a\u0000c', 'a\u0000', 'dup\ud802', 'dup\ufffd', '\ufffd'.repeat(7) + '*', JAVA_LONG_42.slice(1)]) {
      expect(await stores.deadLetters.isKeyParked('billing', 'invoices', key), JSON.stringify(key)).toBe(false);
    }
    // resolving "a\0b" frees that key, not "a\ufffdb", whose display form is the same
    await stores.deadLetters.setStatus([letters[0]!.id], 'redriven');
    expect(await stores.deadLetters.isKeyParked('billing', 'invoices', 'a\u0000b')).toBe(false);
    expect(await stores.deadLetters.isKeyParked('billing', 'invoices', 'a\ufffdb')).toBe(true);
    expect(await stores.deadLetters.discard([letters[3]!.id, letters[0]!.id])).toBe(1);
    expect(await stores.deadLetters.isKeyParked('billing', 'invoices', 'dup\ud800')).toBe(false);
    expect(await stores.deadLetters.isKeyParked('billing', 'invoices', 'dup\ud801')).toBe(true);
    const statuses = (await stores.deadLetters.list()).map((l) => [l.key, l.status]);
    expect(statuses).toEqual(letters.map((l, i) => [l.key, i === 0 ? 'redriven' : i === 3 ? 'discarded' : 'dead']));
  });

  it('pages, counts and groups them with the exact key and value', async () => {
    const stores = await storesWithLetters();
    const first = await stores.deadLetters.page({ limit: 4 });
    const second = await stores.deadLetters.page({ limit: 4, cursor: first.next! });
    expect([...first.letters, ...second.letters]).toEqual(letters);
    expect(second.next).toBeNull();
    for (const l of letters) {
      expect((await stores.deadLetters.page({ key: l.key, status: ['dead', 'parked'] })).letters).toEqual([l]);
      expect(await stores.deadLetters.count({ key: l.key })).toBe(1);
    }
    expect(await stores.deadLetters.count({ key: 'a\ufffdb', reason: 'malformed-envelope' })).toBe(1);
    const keyed = await stores.deadLetters.page({ key: 'dup\ud801', limit: 1 });
    expect(keyed.letters.map((l) => l.envelope)).toEqual(['w\ud83d\ude00']);
    const groups = await stores.deadLetters.groups();
    expect(groups.map((g) => [g.fingerprint, g.count, g.sample.id, g.sample.message])).toEqual([
      ['fp-malformed', 5, letters[4]!.id, letters[4]!.error.message],
      ['fp-handler', 1, letters[5]!.id, 'nul \u0000 and half \ud800 in a message'],
    ]);
    expect(await stores.deadLetters.groups({ key: JAVA_LONG_42 })).toMatchObject([{ fingerprint: 'fp-malformed', count: 1, sample: { id: letters[2]!.id } }]);
    // a value no column holds matches nothing (PostgreSQL would refuse the NUL, or take the lone surrogate for U+FFFD)
    expect(await stores.deadLetters.count({ eventType: 'T\u0000' })).toBe(0);
    expect(await stores.deadLetters.count({ group: 'billing\ud800' })).toBe(0);
    expect(await stores.deadLetters.page({ handler: '\u0000', key: 'a\u0000b' })).toEqual({ letters: [], next: null });
    expect(await stores.deadLetters.groups({ reason: 'malformed-envelope\u0000' })).toEqual([]);
  });

  it('stores the bytes only where the text column cannot hold the string, the record\'s own bytes', async () => {
    const stores = await storesWithLetters();
    const rows = await stores.transaction((tx) =>
      tx.query<{ key: string; key_bytes: string | null; envelope_bytes: string | null }>(
        `SELECT key, encode(key_bytes, 'hex') AS key_bytes, encode(envelope_bytes, 'hex') AS envelope_bytes FROM herald.dead_letters ORDER BY seq`,
      ),
    );
    expect(rows).toEqual([
      { key: 'a\ufffdb', key_bytes: '610062', envelope_bytes: '000000000102' + '06666f6f' },
      { key: 'a\ufffdb', key_bytes: null, envelope_bytes: null },
      { key: '\ufffd'.repeat(7) + '*', key_bytes: '000000000000002a', envelope_bytes: null },
      { key: 'dup\ufffd', key_bytes: '647570eda080', envelope_bytes: '76edb08000' },
      { key: 'dup\ufffd', key_bytes: '647570eda081', envelope_bytes: null },
      { key: 'order-1', key_bytes: null, envelope_bytes: null },
    ]);
  });

  it('keeps no envelope id or type it cannot hold: NULL, as the decoder reports such an envelope', async () => {
    const stores = await pgs.stores();
    const odd = letter(7, 'k', '{"id":"e\\u0000"}', { eventId: 'e\u0000', eventType: 'T\ud800', headers: { 'x-nul': 'a\u0000b', 'x-half': '\udc00' } });
    await stores.deadLetters.add(odd);
    expect(await stores.deadLetters.list()).toEqual([{ ...odd, eventId: null, eventType: null }]);
    // added again (a retried add): the stored letter stands
    const stored = { ...odd, eventId: null, eventType: null };
    expect(await stores.deadLetters.add({ ...odd, attempts: 2, key: 'k\u0000' })).toEqual(stored);
    // the event id it could not hold is NULL, as for a record whose envelope could not be read: the record's open letter
    expect(await stores.deadLetters.add({ ...odd, id: letter(8, 'k', '{}').id, eventId: 'e\u0000\u0000' })).toEqual(stored);
    const nul = letter(9, 'k\u0000', '{}');
    expect(await stores.deadLetters.add(nul)).toBeUndefined();
    expect(await stores.deadLetters.list({ key: 'k\u0000' })).toEqual([nul]);
    expect(await stores.deadLetters.list({ key: 'k' })).toEqual([stored]);
  });

  it('adds and parks a key of any length (the parked index holds its hash)', async () => {
    const stores = await pgs.stores();
    // 12 000 random characters: far beyond a B-tree entry, and not compressible below it
    let seed = 11;
    const key = Array.from({ length: 12_000 }, () => String.fromCharCode(0x4e00 + ((seed = (seed * 48_271) % 2_147_483_647) % 20_000))).join('');
    await stores.deadLetters.add(letter(8, key, '{}'));
    expect(await stores.deadLetters.isKeyParked('billing', 'invoices', key)).toBe(true);
    expect(await stores.deadLetters.isKeyParked('billing', 'invoices', key.slice(1))).toBe(false);
    expect((await stores.deadLetters.list({ key })).map((l) => l.offset)).toEqual([8]);
  });
});

describe('inbox marks of ids PostgreSQL cannot keep', () => {
  it('refuses them with a final value-rejected naming the id, and finds no mark for them', async () => {
    const stores = await pgs.stores();
    expect(await stores.transaction((tx) => stores.inbox.markHandled(tx, { group: 'g', eventId: 'dup\ufffd', handledAt: 1 }))).toBe(true);
    for (const eventId of ['dup\ud800', 'dup\ud801', 'a\u0000b']) {
      const refused = stores.transaction((tx) => stores.inbox.markHandled(tx, { group: 'g', eventId, handledAt: 2 }));
      await expect(refused).rejects.toMatchObject({ code: 'value-rejected', retriable: false, message: expect.stringContaining(`event id ${JSON.stringify(eventId)} must not contain`) });
      const many = stores.transaction((tx) => stores.inbox.markHandledMany!(tx, [{ group: 'g', eventId: 'fine', handledAt: 2 }, { group: 'g', eventId, handledAt: 2 }]));
      await expect(many).rejects.toMatchObject({ code: 'value-rejected' });
    }
    // the lone surrogate's id is not the U+FFFD id node-postgres would have sent in its place
    expect(await stores.inbox.findHandled(['dup\ud800', 'a\u0000b'])).toEqual([]);
    expect((await stores.inbox.findHandled(['dup\ud800', 'dup\ufffd'])).map((m) => m.eventId)).toEqual(['dup\ufffd']);
    expect(await stores.inbox.findHandled(['fine'])).toEqual([]);
  });
});

describe('upgrading to version 13', () => {
  it('keeps the letters parking keys parked, and takes any key and value from then on', async () => {
    const url = await pgs.database();
    const t = tablesFor('herald');
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      // the schema as version 12 left it, with a letter parking its key as that release wrote it
      await client.query(`CREATE SCHEMA herald; CREATE TABLE ${t.migrations} (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
      for (const m of MIGRATIONS.filter((m) => m.version <= 12)) await client.query(`${m.sql(t)}; INSERT INTO ${t.migrations} (version, name) VALUES (${m.version}, 'v${m.version}')`);
      await client.query(`INSERT INTO ${t.deadLetters} (id, group_name, handler, topic, partition, record_offset, key, reason, fingerprint, error, attempts,
          first_failure_at, last_failure_at, envelope, headers, policy, status)
        VALUES ('before', 'billing', 'billing:Invoice', 'invoices', 1, 0, 'a\ufffdb', 'handler-failed', 'fp', '{"name":"Error","message":"boom"}', 1, 5, 5, '{}', '{}', 'park-key', 'dead')`);
    } finally {
      await client.end();
    }
    const later = MIGRATIONS.map((m) => m.version).filter((v) => v > 12);
    expect(await migrate({ connectionString: url })).toEqual({ applied: later, version: later.at(-1) });
    const stores = pgStores({ connectionString: url });
    try {
      expect(await stores.deadLetters.isKeyParked('billing', 'invoices', 'a\ufffdb')).toBe(true);
      expect(await stores.deadLetters.isKeyParked('billing', 'invoices', 'a\u0000b')).toBe(false);
      await stores.deadLetters.add(letters[0]!);
      expect((await stores.deadLetters.list({ key: 'a\u0000b' })).map((l) => l.id)).toEqual([letters[0]!.id]);
      expect((await stores.deadLetters.list({ key: 'a\ufffdb' })).map((l) => [l.id, l.envelope])).toEqual([['before', '{}']]);
    } finally {
      await stores.close();
    }
  });
});
