import { describe, expect, it } from 'vitest';
import { ErrorCodes, HeraldError, REDRIVE_HEADERS, type DeadLetter, type DeadLetterPage, type DeadLetterGroup } from '@herald/core';
import { EXIT_CODES, main } from '../src/index.js';
import { UNPRINTABLE, fakeIo, herald, letter, memoryEngine } from './support.js';

// `herald dlq` against the in-memory engine, through `main` with a recording
// io: outputs, JSON, exit codes, confirmations. The real bin on the real engines is in cli.e2e.test.ts.

async function withLetters(list: readonly DeadLetter[]) {
  const m = memoryEngine();
  for (const l of list) await m.stores.deadLetters.add(l);
  return m;
}

const statusOf = async (m: ReturnType<typeof memoryEngine>, id: string) => (await m.stores.deadLetters.list({ ids: [id] }))[0]!.status;

describe('herald dlq', () => {
  it('lists pending letters by page and cursor, narrows by filters and statuses, and prints JSON for scripts', async () => {
    const letters = [letter({ key: 'a' }), letter({ key: 'b', reason: 'schema-violation', fingerprint: 'fp-schema' }), letter({ key: 'c' }), letter({ key: 'd', status: 'discarded' })];
    const m = await withLetters(letters);
    const first = await herald(m.engine, ['dlq', 'list', '--limit', '2', '--json']);
    expect(first.code).toBe(0);
    const page1 = JSON.parse(first.stdout) as DeadLetterPage;
    expect(page1.letters.map((l) => l.key)).toEqual(['a', 'b']);
    const page2 = JSON.parse((await herald(m.engine, ['--json', 'dlq', 'list', '--limit', '2', '--cursor', page1.next!])).stdout) as DeadLetterPage;
    expect(page2).toMatchObject({ letters: [{ key: 'c' }], next: null });

    const text = await herald(m.engine, ['dlq', 'list', '--reason', 'handler-failed']);
    expect(text.stdout).toMatch(/^ID\s+STATUS\s+GROUP\s+HANDLER\s+REASON\s+KEY\s+ATTEMPTS\s+LAST FAILURE\s+ERROR\n/);
    expect(text.stdout).toContain(letters[0]!.id);
    expect(text.stdout).not.toContain(letters[1]!.id);
    const all = JSON.parse((await herald(m.engine, ['dlq', 'list', '--status', 'all', '--json'])).stdout) as DeadLetterPage;
    expect(all.letters.map((l) => l.key)).toEqual(['a', 'b', 'c', 'd']);
    expect((await herald(m.engine, ['dlq', 'list', '--status', 'lost'])).code).toBe(EXIT_CODES.usage);
    expect((await herald(m.engine, ['dlq', 'list', '--since', 'yesterday'])).stderr).toContain('--since must be an ISO date-time');
    const impossible = await herald(m.engine, ['dlq', 'list', '--since', '2025-02-31']);
    expect([impossible.code, impossible.stderr]).toEqual([EXIT_CODES.usage, 'herald: --since must be a date and time that exist, got "2025-02-31" (no such day, hour or offset) (invalid-options)\n']);
  });

  it('prints what records hold escaped in its tables (an escape sequence, a newline, a bidi override), and exact with --json', async () => {
    const hostile = letter({ key: 'a\x1b[2J\nb', fingerprint: 'fp-hostile', error: { name: 'Error', message: 'no \u202eseod\x1b]0;title\x07' } });
    const m = await withLetters([hostile, letter({ key: 'plain' })]);
    const text = (await herald(m.engine, ['dlq', 'list'])).stdout;
    const rows = text.trimEnd().split('\n');
    expect(rows.filter((row) => UNPRINTABLE.test(row))).toEqual([]);
    expect(rows, 'a header and one row per letter').toHaveLength(3);
    expect(rows[1]).toContain('  a\\x1b[2J\\nb  ');
    expect(rows[1]).toMatch(/ {2}no \\u202eseod\\x1b]0;title\\x07$/);
    // the KEY column starts at the same place on every row
    expect(rows.map((r) => r.indexOf(r === rows[0] ? 'KEY' : r === rows[1] ? 'a\\x1b' : 'plain'))).toEqual(Array(3).fill(rows[0]!.indexOf('KEY')));
    expect((await herald(m.engine, ['dlq', 'groups'])).stdout).toContain('no \\u202eseod\\x1b]0;title\\x07');
    const json = JSON.parse((await herald(m.engine, ['dlq', 'list', '--json'])).stdout) as DeadLetterPage;
    expect(json.letters.map((l) => [l.key, l.error.message])).toEqual([
      [hostile.key, hostile.error.message],
      ['plain', 'boom'],
    ]);
  });

  it('groups letters by fingerprint with counts, largest first', async () => {
    const m = await withLetters([letter(), letter({ reason: 'schema-violation', fingerprint: 'fp-schema' }), letter(), letter({ status: 'redriven' })]);
    const groups = JSON.parse((await herald(m.engine, ['dlq', 'groups', '--json'])).stdout) as DeadLetterGroup[];
    expect(groups.map((g) => [g.fingerprint, g.reason, g.count])).toEqual([
      ['fp-boom', 'handler-failed', 2],
      ['fp-schema', 'schema-violation', 1],
    ]);
    const text = (await herald(m.engine, ['dlq', 'groups'])).stdout;
    expect(text.split('\n')[1]).toMatch(/^2\s+worker\s+worker:Step\s+handler-failed\s+fp-boom\s/);
  });

  it('refuses a destructive command without --yes when stdin is not a terminal, and asks at a terminal', async () => {
    const dead = letter();
    const m = await withLetters([dead]);
    const refused = await herald(m.engine, ['dlq', 'redrive', dead.id]);
    expect(refused.code).toBe(EXIT_CODES.usage);
    expect(refused.stderr).toBe('herald: refusing to redrive 1 dead letter(s) through the log (worker: 1) on memory without confirmation: stdin is not a terminal; pass --yes (confirmation-required)\n');
    const declined = await herald(m.engine, ['dlq', 'discard', dead.id], { tty: true, answer: 'n' });
    expect(declined.code).toBe(EXIT_CODES.declined);
    expect(declined.asked).toEqual(['Discard 1 dead letter(s) (worker: 1) on memory? [y/N] ']);
    expect(await statusOf(m, dead.id)).toBe('dead');
    expect(m.broker.records('steps')).toEqual([]);
    const accepted = await herald(m.engine, ['dlq', 'discard', dead.id], { tty: true, answer: 'yes' });
    expect(accepted.code).toBe(0);
    expect(await statusOf(m, dead.id)).toBe('discarded');
  });

  it('leaves out of a redrive the letters that changed while it waited for the confirmation', async () => {
    const kept = letter();
    const bogus = letter();
    const m = await withLetters([kept, bogus]);
    const fake = fakeIo({ tty: true });
    // another operator discards one of them while this one reads the prompt
    const io = { ...fake.io, ask: async () => (await m.stores.deadLetters.discard([bogus.id]), 'y') };
    const code = await main(['dlq', 'redrive', '--group', 'worker'], io, { open: async () => m.engine });
    expect(code).toBe(0);
    expect(fake.stdout()).toMatch(/^redriven 1 dead letter\(s\) \(run [0-9a-f-]+; worker: 1; 1 left out: they changed status while waiting for the confirmation\)/);
    expect(m.broker.records('steps').map((r) => r.headers[REDRIVE_HEADERS.letter])).toEqual([kept.id]);
    expect([await statusOf(m, kept.id), await statusOf(m, bogus.id)]).toEqual(['dead', 'discarded']);

    // with nothing left to send, nothing is sent and the exit says so
    const last = letter();
    await m.stores.deadLetters.add(last);
    const none = fakeIo({ tty: true });
    const all = { ...none.io, ask: async () => (await m.stores.deadLetters.discard([last.id]), 'y') };
    expect(await main(['dlq', 'redrive', last.id], all, { open: async () => m.engine })).toBe(EXIT_CODES.nothingMatched);
    expect(none.stderr()).toContain('changed status while waiting for the confirmation; nothing redriven');
    expect(m.broker.records('steps')).toHaveLength(1);
  });

  it('discards only the statuses asked for, and refuses settled ones', async () => {
    const dead = letter({ key: 'p', policy: 'park-key' });
    const parked = letter({ key: 'p', policy: 'park-key', status: 'parked', reason: 'parked-behind-key' });
    const m = await withLetters([dead, parked]);
    const run = await herald(m.engine, ['dlq', 'discard', '--group', 'worker', '--status', 'parked', '--yes']);
    expect([run.code, run.stdout.split('\n')[0], run.stdout.includes('key p of worker on steps, 1 letter(s)')]).toEqual([0, 'discarded 1 dead letter(s)', true]);
    expect([await statusOf(m, dead.id), await statusOf(m, parked.id)]).toEqual(['dead', 'discarded']);
    const settled = await herald(m.engine, ['dlq', 'discard', '--group', 'worker', '--status', 'redriven', '--yes']);
    expect(settled.code).toBe(EXIT_CODES.usage);
    expect(settled.stderr).toContain('discard takes --status dead, parked or both');
  });

  it('needs ids, a filter or --all before touching anything', async () => {
    const m = await withLetters([letter()]);
    const bare = await herald(m.engine, ['dlq', 'redrive', '--yes']);
    expect(bare.code).toBe(EXIT_CODES.usage);
    expect(bare.stderr).toContain('say which dead letters');
    expect((await herald(m.engine, ['dlq', 'redrive', '--all', '--yes'])).code).toBe(0);
  });

  it('redrives through the log: each envelope for its group, a park-key key whole and in order; the letters stay for the group to mark', async () => {
    // key p: a dead letter and two parked behind it; key q: one skip letter; another group's letter
    const pDead = letter({ key: 'p', policy: 'park-key', fingerprint: 'fp-p' });
    const q = letter({ key: 'q' });
    const pParked1 = letter({ key: 'p', policy: 'park-key', status: 'parked', reason: 'parked-behind-key', fingerprint: 'fp-parked' });
    const audit = letter({ key: 'q', group: 'audit', handler: 'audit:Step' });
    const pParked2 = letter({ key: 'p', policy: 'park-key', status: 'parked', reason: 'parked-behind-key', fingerprint: 'fp-parked' });
    const m = await withLetters([pDead, q, pParked1, audit, pParked2]);

    // selecting only the parked ones of key p brings the whole key along, dead letter first
    const run = await herald(m.engine, ['dlq', 'redrive', '--group', 'worker', '--reason', 'parked-behind-key', '--yes', '--json']);
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout) as { run: string; redriven: number; added: number; letters: { id: string; was: string }[] };
    expect(result).toMatchObject({ redriven: 3, added: 1 });
    expect(result.letters.map((l) => [l.id, l.was])).toEqual([
      [pDead.id, 'dead'],
      [pParked1.id, 'parked'],
      [pParked2.id, 'parked'],
    ]);
    const records = m.broker.records('steps');
    expect(records.map((r) => r.headers[REDRIVE_HEADERS.letter])).toEqual([pDead.id, pParked1.id, pParked2.id]);
    expect(records.map((r) => r.value)).toEqual([pDead.envelope, pParked1.envelope, pParked2.envelope]);
    expect(records[0]!.headers).toEqual({ traceparent: '00-trace-span-01', [REDRIVE_HEADERS.group]: 'worker', [REDRIVE_HEADERS.letter]: pDead.id, [REDRIVE_HEADERS.run]: result.run });
    expect(new Set(records.map((r) => r.partition)).size, 'one key, one partition').toBe(1);
    // the letters hold their key until the group has handled their records (no member runs here)
    expect(await Promise.all([pDead, pParked1, pParked2, q, audit].map((l) => statusOf(m, l.id)))).toEqual(['dead', 'parked', 'parked', 'dead', 'dead']);

    // once the group marked them, redriving the same letter again matches nothing, unless redriven letters are asked for
    await m.stores.deadLetters.setStatus([pDead.id, pParked1.id, pParked2.id], 'redriven');
    const again = await herald(m.engine, ['dlq', 'redrive', pDead.id, '--yes']);
    expect(again.code).toBe(EXIT_CODES.nothingMatched);
    expect(again.stderr).toContain('no dead letters match (status dead or parked)');
    const resend = await herald(m.engine, ['dlq', 'redrive', pDead.id, '--status', 'redriven', '--yes']);
    expect(resend.code).toBe(0);
    expect(resend.stdout).toMatch(/^redriven 1 dead letter\(s\) \(run [0-9a-f-]+; worker: 1\)/);
    expect(m.broker.records('steps')).toHaveLength(4);
    // asked for, a settled letter waits for its record again: a group skips a record whose letter is settled
    expect(await statusOf(m, pDead.id)).toBe('dead');
    await m.stores.deadLetters.setStatus([q.id], 'discarded');
    expect((await herald(m.engine, ['dlq', 'redrive', q.id, '--status', 'discarded', '--yes'])).code).toBe(0);
    expect(await statusOf(m, q.id)).toBe('dead');
  });

  it('reports only the letters a discard changed: one another operator discarded first is left out, and none left is nothing matched', async () => {
    const kept = letter();
    const taken = letter();
    const m = await withLetters([kept, taken]);
    const fake = fakeIo({ tty: true });
    // another operator discards one of them while this one reads the prompt
    const io = { ...fake.io, ask: async () => (await m.stores.deadLetters.discard([taken.id]), 'y') };
    expect(await main(['dlq', 'discard', '--group', 'worker', '--json'], io, { open: async () => m.engine })).toBe(0);
    expect(JSON.parse(fake.stdout())).toEqual({ discarded: 1, changed: 1, ids: [kept.id], held: [] });

    const last = letter();
    await m.stores.deadLetters.add(last);
    const none = fakeIo({ tty: true });
    const raced = { ...none.io, ask: async () => (await m.stores.deadLetters.discard([last.id]), 'y') };
    expect(await main(['dlq', 'discard', last.id], raced, { open: async () => m.engine })).toBe(EXIT_CODES.nothingMatched);
    expect(none.stdout()).toBe('');
    expect(none.stderr()).toBe('herald: all 1 dead letter(s) changed status while waiting for the confirmation; nothing discarded (nothing-matched)\n');
  });

  it('refuses ids no dead letter has, before touching the others', async () => {
    const dead = letter();
    const m = await withLetters([dead]);
    const typo = '01a243cc-0000-7000-8000-000000000000';
    for (const action of ['redrive', 'discard']) {
      const run = await herald(m.engine, ['dlq', action, dead.id, typo, '--yes']);
      expect([run.code, run.stderr]).toEqual([EXIT_CODES.nothingMatched, `herald: no dead letter has id ${typo}; nothing was changed (see herald dlq list --status all) (nothing-matched)\n`]);
    }
    expect(await statusOf(m, dead.id)).toBe('dead');
    expect(m.broker.records('steps')).toEqual([]);
  });

  it('refuses ids together with --all', async () => {
    const dead = letter();
    const m = await withLetters([dead]);
    for (const action of ['redrive', 'discard']) {
      const run = await herald(m.engine, ['dlq', action, dead.id, '--all', '--yes']);
      expect([run.code, run.stderr]).toEqual([EXIT_CODES.usage, 'herald: give ids or --all, not both: --all selects every letter the filters match (invalid-options)\n']);
    }
    expect(await statusOf(m, dead.id)).toBe('dead');
  });

  it('settles again the letters it reopened when their records cannot be appended (the broker down)', async () => {
    const discarded = letter({ key: 'p', policy: 'park-key' });
    const redriven = letter({ key: 'q' });
    const m = await withLetters([discarded, redriven]);
    await m.stores.deadLetters.setStatus([discarded.id], 'discarded');
    await m.stores.deadLetters.setStatus([redriven.id], 'redriven');
    const broker = {
      ...m.broker,
      async publish(): Promise<never> {
        throw new HeraldError(ErrorCodes.brokerUnavailable, 'broker down', { retriable: true });
      },
    };
    const fake = fakeIo();
    const code = await main(['dlq', 'redrive', '--all', '--status', 'discarded,redriven', '--yes'], fake.io, { open: async () => ({ ...m.engine, broker }) });
    expect(code).not.toBe(0);
    expect(fake.stderr()).toContain('broker-unavailable');
    // not left dead: the park-key letter would hold its key with no record on its way to release it
    expect([await statusOf(m, discarded.id), await statusOf(m, redriven.id)]).toEqual(['discarded', 'redriven']);
  });

  it('stops a redrive or a discard between chunks on Ctrl-C, says how far it got and exits 130', async () => {
    const letters = Array.from({ length: 650 }, (_, i) => letter({ key: `k${i}` }));
    const m = await withLetters(letters);
    const redrive = fakeIo();
    // Ctrl-C arrives while the first chunk is being appended
    const broker = {
      ...m.broker,
      async publish(records: Parameters<typeof m.broker.publish>[0]) {
        await m.broker.publish(records);
        redrive.stop();
      },
    };
    expect(await main(['dlq', 'redrive', '--all', '--yes'], redrive.io, { open: async () => ({ ...m.engine, broker }) })).toBe(EXIT_CODES.interrupted);
    expect(redrive.stderr()).toMatch(/^redriving: 100\/650\nherald: stopped after 100\/650 dead letter\(s\) \(run [0-9a-f-]{36}\); re-run to send the rest \(interrupted\)\n$/);
    expect(m.broker.records('steps')).toHaveLength(100);

    const discard = fakeIo();
    const deadLetters = {
      ...m.stores.deadLetters,
      async discard(ids: readonly string[]) {
        const changed = await m.stores.deadLetters.discard(ids);
        discard.stop();
        return changed;
      },
    };
    const stores = { ...m.stores, deadLetters };
    expect(await main(['dlq', 'discard', '--all', '--yes'], discard.io, { open: async () => ({ ...m.engine, stores }) })).toBe(EXIT_CODES.interrupted);
    expect(discard.stderr()).toBe('discarding: 500/650\nherald: stopped after 500/650 dead letter(s) discarded; re-run to discard the rest (interrupted)\n');
    expect(await m.stores.deadLetters.count({ status: 'discarded' })).toBe(500);
  });

  it('prints plain progress lines when stderr is not a terminal, and a bar when it is', async () => {
    const letters = Array.from({ length: 150 }, (_, i) => letter({ key: `k${i}` }));
    const plain = await withLetters(letters);
    const run = await herald(plain.engine, ['dlq', 'redrive', '--all', '--yes']);
    expect(run.stderr).toBe('redriving: 100/150\nredriving: 150/150\n');
    const tty = await withLetters(letters);
    const bar = await herald(tty.engine, ['dlq', 'discard', '--all', '--yes'], { tty: true });
    expect(bar.stderr).toMatch(/\rdiscarding \[#{30}\] 150\/150\n$/);
  });
});
