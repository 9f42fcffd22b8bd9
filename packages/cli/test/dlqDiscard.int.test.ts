import { Type } from '@sinclair/typebox';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp, defineEvent, silentLogger, type App, type DeadLetter } from '@herald/core';
import { memoryBroker, memoryStores, type MemoryTx } from '@herald/testing';
import { EXIT_CODES } from '../src/index.js';
import { herald, letter, memoryEngine } from './support.js';

// `dlq discard` and the park-key keys it leaves held: against a running app on the in-memory
// engine (what the runtime does with a key once its dead letter is discarded), and on letters alone.

const Step = defineEvent({ type: 'Step', topic: 'steps', key: (d) => d.key, schema: Type.Object({ key: Type.String(), seq: Type.Integer(), poison: Type.Optional(Type.Boolean()) }) });

const apps: App<MemoryTx>[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** An app with group `billing` (park-key, one attempt) that fails a poison event and applies the others. */
async function billing() {
  const broker = memoryBroker({ partitions: 2 });
  const stores = memoryStores();
  const applied: number[] = [];
  const app = createApp<MemoryTx>({
    broker,
    stores: { ...stores, close: async () => {} },
    logger: silentLogger,
    handlerDefaults: { retry: { maxAttempts: 1 }, deadLetter: 'park-key' },
    groups: { billing: { commitIntervalMs: 5 } },
    relay: { idleMs: 2 },
  });
  app.on(Step, { group: 'billing' }, async (event) => {
    if (event.data.poison) throw new Error(`poison ${event.data.seq}`);
    applied.push(event.data.seq);
  });
  apps.push(app);
  await app.start();
  const engine = { broker, stores, description: 'memory', close: async () => {} };
  const statuses = async () => (await stores.deadLetters.list({ group: 'billing' })).map((l) => [l.key, l.status, l.reason]);
  return { app, engine, stores, applied, statuses };
}

describe('herald dlq discard of a park-key key', () => {
  it('says the letters parked behind a discarded dead letter keep holding its key, and how to release it', async () => {
    const b = await billing();
    await b.app.publish(Step, { key: 'k1', seq: 0, poison: true });
    await b.app.publish(Step, { key: 'k1', seq: 1 });
    await eventually(async () => (await b.stores.deadLetters.list({ status: 'parked' })).length === 1, 'seq 1 parked behind seq 0');

    const prompt = await herald(b.engine, ['dlq', 'discard', '--key', 'k1', '--reason', 'handler-failed'], { tty: true, answer: 'n' });
    expect(prompt.code).toBe(EXIT_CODES.declined);
    const release = 'herald dlq redrive --group billing --topic steps --key k1';
    expect(prompt.asked).toEqual([
      `Discard 1 dead letter(s) (billing: 1); 1 park-key key(s) will stay held by their letters still parked or dead, and every new event of them parks behind those until they are redriven or discarded too: key k1 of billing on steps, 1 letter(s) (${release}) on memory? [y/N] `,
    ]);

    const discard = await herald(b.engine, ['dlq', 'discard', '--key', 'k1', '--reason', 'handler-failed', '--yes']);
    expect(discard.code).toBe(0);
    expect(discard.stdout).toBe(
      `discarded 1 dead letter(s)\n1 park-key key(s) stay held by their letters still parked or dead, and every new event of them parks behind those until they are redriven or discarded too: key k1 of billing on steps, 1 letter(s) (${release})\n`,
    );

    // what the runtime does: the parked letter, not only the dead one, holds the key
    await b.app.publish(Step, { key: 'k1', seq: 2 });
    await eventually(async () => (await b.stores.deadLetters.list({ status: 'parked' })).length === 2, 'seq 2 parked behind seq 1');
    expect(b.applied).toEqual([]);

    // the command it printed releases the key: the parked events apply in order, and later ones flow
    const redrive = await herald(b.engine, [...release.split(' ').slice(1), '--yes']);
    expect(redrive.code).toBe(0);
    await eventually(async () => b.applied.length === 2, 'the parked events applied');
    await b.app.publish(Step, { key: 'k1', seq: 3 });
    await eventually(async () => b.applied.length === 3, 'seq 3 applied');
    expect(b.applied).toEqual([1, 2, 3]);
    expect((await b.statuses()).map(([, status]) => status)).toEqual(['discarded', 'redriven', 'redriven']);
  });

  it('names no key when the discard takes every letter of it, or the letters are under skip; lists held keys in JSON', async () => {
    const m = memoryEngine();
    const add = async (list: DeadLetter[]) => {
      for (const l of list) await m.stores.deadLetters.add(l);
      return list;
    };
    await add([letter({ key: 'a', policy: 'park-key' }), letter({ key: 'a', policy: 'park-key', status: 'parked', reason: 'parked-behind-key' })]);
    const [headB] = await add([letter({ key: 'b', policy: 'park-key' }), letter({ key: 'b', policy: 'park-key', status: 'parked', reason: 'parked-behind-key' })]);
    await add([letter({ key: 'b', policy: 'park-key', status: 'parked', reason: 'parked-behind-key' })]);
    await add([letter({ key: 'c' }), letter({ key: 'c' })]);

    const whole = await herald(m.engine, ['dlq', 'discard', '--key', 'a', '--yes']);
    expect([whole.code, whole.stdout]).toEqual([0, 'discarded 2 dead letter(s)\n']);
    const skip = await herald(m.engine, ['dlq', 'discard', '--key', 'c', '--reason', 'handler-failed', '--yes', '--json']);
    expect(JSON.parse(skip.stdout)).toMatchObject({ discarded: 2, held: [] });

    const json = await herald(m.engine, ['dlq', 'discard', headB!.id, '--yes', '--json']);
    expect(JSON.parse(json.stdout)).toEqual({ discarded: 1, changed: 0, ids: [headB!.id], held: [{ group: 'worker', topic: 'steps', key: 'b', letters: 2 }] });
  });

  it('quotes a key for the shell and escapes it for the terminal in the command it prints', async () => {
    const m = memoryEngine();
    const key = "it's\x1b[2J";
    for (const l of [letter({ key, policy: 'park-key' }), letter({ key, policy: 'park-key', status: 'parked' })]) await m.stores.deadLetters.add(l);
    const run = await herald(m.engine, ['dlq', 'discard', '--status', 'dead', '--all', '--yes']);
    expect(run.stdout).toContain(`(herald dlq redrive --group worker --topic steps --key 'it'\\''s\\x1b[2J')\n`);
  });
});
