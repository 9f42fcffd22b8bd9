import { Type } from '@sinclair/typebox';
import { afterEach, describe, expect, it } from 'vitest';
import { defineEvent } from '@herald/core';
import { closeApps, newApp, Step } from './appFixture.js';
import { eventually } from './support.js';

afterEach(closeApps);

// A key under `park-key` moves as a whole in `app.redrive`, as `herald dlq redrive` plans it:
// selecting one of its letters (by id, or by handler) brings in the key's other dead and parked
// letters, the dead one first, so a later event never applies before an earlier one.

/** A park-key app whose key `sick` has seq 0 dead and seq 1 and 2 parked behind it; after `heal()` seq 0 passes. */
async function sickKeyWithParked() {
  const { app } = newApp({ deadLetter: 'park-key' });
  let healthy = false;
  const applied: number[] = [];
  app.on(Step, { group: 'worker' }, async (event) => {
    if (event.data.seq === 0 && !healthy) throw new Error('downstream unavailable');
    applied.push(event.data.seq);
  });
  await app.start();
  for (let seq = 0; seq < 3; seq++) await app.publish(Step, { key: 'sick', seq });
  await eventually(async () => (await app.deadLetters({ status: 'parked' })).length === 2, 'two letters parked behind the dead one');
  const [dead] = await app.deadLetters({ status: 'dead' });
  const parked = await app.deadLetters({ status: 'parked' });
  return { app, applied, dead: dead!, parked, heal: () => void (healthy = true) };
}

describe('app.redrive of a park-key letter selected by id', () => {
  it('redrives the dead letter of its key first, and the key in order, when only a later parked letter is selected', async () => {
    const { app, applied, parked, heal } = await sickKeyWithParked();
    heal();
    const result = await app.redrive({ group: 'worker', ids: [parked[1]!.id] });
    expect(applied).toEqual([0, 1, 2]);
    expect(result).toEqual({ redriven: 3, failed: 0, stillParked: 0 });
    expect((await app.deadLetters()).map((l) => l.status)).toEqual(['redriven', 'redriven', 'redriven']);
  });

  it('leaves the parked letters where they are when the dead letter of their key fails again', async () => {
    const { app, applied, dead, parked } = await sickKeyWithParked();
    const result = await app.redrive({ group: 'worker', ids: [parked[0]!.id] });
    expect(applied).toEqual([]);
    expect(result).toEqual({ redriven: 0, failed: 1, stillParked: 2 });
    expect(Object.fromEntries((await app.deadLetters()).map((l) => [l.id, l.status]))).toEqual({ [dead.id]: 'dead', [parked[0]!.id]: 'parked', [parked[1]!.id]: 'parked' });
  });
});

/** Another event type on Step's topic: a group's handler of it shares the keys of Step's handler. */
const Note = defineEvent({ type: 'Note', topic: 'steps', key: (d) => d.key, schema: Type.Object({ key: Type.String(), seq: Type.Integer() }) });

describe('app.redrive of one handler of a park-key group', () => {
  it("redrives first the other handler's dead letter that its parked letter waits behind", async () => {
    const { app } = newApp({ deadLetter: 'park-key' });
    let healthy = false;
    const applied: string[] = [];
    app.on(Step, { group: 'worker' }, async (event) => {
      if (!healthy) throw new Error('downstream unavailable');
      applied.push(`step${event.data.seq}`);
    });
    app.on(Note, { group: 'worker' }, async (event) => void applied.push(`note${event.data.seq}`));
    await app.start();
    await app.publish(Step, { key: 'sick', seq: 0 });
    await eventually(async () => (await app.deadLetters({ status: 'dead' })).length === 1, 'step 0 dead');
    await app.publish(Note, { key: 'sick', seq: 1 });
    await eventually(async () => (await app.deadLetters({ status: 'parked' })).length === 1, 'note 1 parked behind it');

    healthy = true;
    const result = await app.redrive({ group: 'worker', handler: 'worker:Note' });
    expect(applied).toEqual(['step0', 'note1']);
    expect(result).toEqual({ redriven: 2, failed: 0, stillParked: 0 });
  });
});
