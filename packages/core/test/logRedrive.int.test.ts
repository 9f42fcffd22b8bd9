import { Type } from '@sinclair/typebox';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually, readyInBackground } from './support.js';
import {
  createApp,
  createManualClock,
  defineEvent,
  partitionForKey,
  redriveRecord,
  redriveTargetOf,
  REDRIVE_HEADERS,
  silentLogger,
  uuidv7,
  type App,
  type DeadLetter,
  type InstrumentationEvent,
} from '@herald/core';
import { memoryBroker, memoryStores, type MemoryBroker, type MemoryStores, type MemoryTx } from '@herald/testing';

// A redrive through the log, as `herald dlq redrive` does it from outside the app's process: the
// letter's envelope is appended to its topic again, addressed to its group, which marks the letter
// once it handled the record.

const Step = defineEvent({
  type: 'Step',
  topic: 'steps',
  key: (d) => d.key,
  schema: Type.Object({ key: Type.String(), seq: Type.Integer() }),
});

const apps: App<MemoryTx>[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close({ deadlineMs: 1000 })));
});

interface Harness {
  app: App<MemoryTx>;
  broker: MemoryBroker;
  stores: MemoryStores;
  /** Seqs applied per group, in order. */
  applied: Record<string, number[]>;
  facts: InstrumentationEvent[];
  /** Keys/seqs that throw in `worker` while listed. */
  sick: Set<string>;
}

async function start(deadLetter: 'skip' | 'park-key'): Promise<Harness> {
  const broker = memoryBroker({ partitions: 2 });
  const stores = memoryStores();
  const app = createApp<MemoryTx>({
    broker,
    stores,
    logger: silentLogger,
    handlerDefaults: { retry: { maxAttempts: 1 }, deadLetter },
    groups: { worker: { commitIntervalMs: 10 }, audit: { commitIntervalMs: 10 } },
    relay: { idleMs: 2 },
  });
  apps.push(app);
  const applied: Record<string, number[]> = { worker: [], audit: [] };
  const sick = new Set<string>();
  const facts: InstrumentationEvent[] = [];
  app.instrumentation.on((fact) => facts.push(fact));
  app.on(Step, { group: 'worker' }, async (event, ctx) => {
    if (sick.has(`${event.data.key}/${event.data.seq}`)) throw new Error(`step ${event.data.seq} of ${event.data.key} failed`);
    applied.worker!.push(event.data.seq);
    ctx.tx.set(`worker/${event.id}`, event.data.seq);
  });
  app.on(Step, { group: 'audit' }, async (event) => void applied.audit!.push(event.data.seq));
  await app.start();
  await app.ready();
  return { app, broker, stores, applied, facts, sick };
}

/** What the CLI does: append the letters' records in order (the group marks them when it handled them). */
async function redriveThroughLog(h: Pick<Harness, 'broker'>, letters: readonly DeadLetter[]): Promise<string> {
  const run = uuidv7();
  await h.broker.publish(letters.map((letter) => redriveRecord(letter, run)));
  return run;
}

/**
 * Several app processes over one log and one store (a memory broker's clients, stores never closed
 * by an app): `start` runs one with group `worker` (park-key, one attempt) or none, applying each
 * event's seq to `applied` unless `sick`, one event at a time or, with `batch`, whole batches.
 */
function processes(options: { partitions: number; batch: boolean }) {
  const broker = memoryBroker({ partitions: options.partitions });
  const stores = memoryStores();
  const kept = { ...stores, close: async () => {} };
  const applied: number[] = [];
  const start = async (run: { sick: boolean; groups: boolean }) => {
    const app = createApp<MemoryTx>({
      broker: broker.connect(),
      stores: kept,
      logger: silentLogger,
      handlerDefaults: { retry: { maxAttempts: 1 }, deadLetter: 'park-key' },
      groups: { worker: { commitIntervalMs: 10 } },
      relay: { idleMs: 2 },
    });
    if (options.batch) {
      app.onBatch(Step, { group: 'worker' }, async (batch) => {
        if (run.sick) throw new Error('batch failed');
        applied.push(...batch.map((e) => e.data.seq));
      });
    } else {
      app.on(Step, { group: 'worker' }, async (event) => {
        if (run.sick) throw new Error(`step ${event.data.seq} failed`);
        applied.push(event.data.seq);
      });
    }
    apps.push(app);
    await app.start({ groups: run.groups });
    return app;
  };
  return { broker, stores, applied, start };
}

/** A member whose handler fails dead-letters `k`'s seq 1, then stops: the letter, nothing reading the log. */
async function deadLetterOfFailingMember(p: ReturnType<typeof processes>): Promise<DeadLetter> {
  const failing = await p.start({ sick: true, groups: true });
  await failing.publish(Step, { key: 'k', seq: 1 });
  await eventually(async () => (await p.stores.deadLetters.list({ status: 'dead' })).length === 1, 'seq 1 dead');
  await failing.close();
  const [letter] = await p.stores.deadLetters.list();
  return letter!;
}

const handledIn = (h: Harness, group: string) => h.facts.filter((f): f is Extract<InstrumentationEvent, { kind: 'handled' }> => f.kind === 'handled' && f.group === group);

describe('redrive through the log', () => {
  it('builds a record with the original envelope, key and headers, addressed to the letter’s group', () => {
    const id = '019af1e2-0000-7000-8000-000000000001';
    const letter = { id, group: 'worker', topic: 'steps', key: 'k', envelope: '{"id":"e"}', headers: { traceparent: 't', [REDRIVE_HEADERS.run]: 'old' } } as unknown as DeadLetter;
    const record = redriveRecord(letter, 'R2');
    expect(record).toEqual({
      topic: 'steps',
      key: 'k',
      value: '{"id":"e"}',
      headers: { traceparent: 't', 'herald-redrive-group': 'worker', 'herald-redrive-letter': id, 'herald-redrive-run': 'R2' },
    });
    expect(redriveTargetOf(record.headers!)).toEqual({ group: 'worker', letter: id, run: 'R2' });
    expect(redriveTargetOf({ traceparent: 't' })).toBeUndefined();
    // only all three headers, well formed, make a redrive: a record carrying some of them (copied by a bridge) is an event
    const { [REDRIVE_HEADERS.run]: _run, ...withoutRun } = record.headers!;
    for (const headers of [withoutRun, { ...record.headers!, [REDRIVE_HEADERS.letter]: 'L1' }, { ...record.headers!, [REDRIVE_HEADERS.group]: 'no spaces' }, { ...record.headers!, [REDRIVE_HEADERS.run]: '' }]) {
      expect(redriveTargetOf(headers)).toBeUndefined();
    }
  });

  it('applies the event once in its group, is ignored by every other group, skips a second redrive of the settled letter, and sees a redrive of an unsettled one as a duplicate', async () => {
    const h = await start('skip');
    h.sick.add('a/1');
    await h.app.publish(Step, { key: 'a', seq: 1 });
    await eventually(async () => (await h.app.deadLetters({ status: 'dead' })).length === 1 && h.applied.audit!.length === 1, 'a dead letter in worker, applied in audit');
    const [letter] = await h.app.deadLetters();
    h.sick.clear();

    await redriveThroughLog(h, [letter!]);
    await eventually(() => h.applied.worker!.length === 1, 'the redrive applied in worker');
    expect((await h.app.deadLetters({ ids: [letter!.id] }))[0]!.status).toBe('redriven');

    // redriven twice (an operator sending it again): its letter is settled, the record is skipped
    await redriveThroughLog(h, [letter!]);
    await eventually(async () => (await h.broker.describeGroup('worker')).totalLag === 0, 'worker caught up');
    expect(handledIn(h, 'worker').map((f) => f.outcome)).toEqual(['dead-lettered', 'applied']);
    // a run that crashed after the group applied the record but before it marked the letter
    await h.stores.deadLetters.setStatus([letter!.id], 'dead');
    await redriveThroughLog(h, [letter!]);
    await eventually(() => handledIn(h, 'worker').filter((f) => f.outcome === 'duplicate').length === 1, 'the third redrive seen as a duplicate');
    await eventually(async () => (await h.app.deadLetters({ ids: [letter!.id] }))[0]!.status === 'redriven', 'the letter settled by the duplicate');
    await eventually(async () => (await h.broker.describeGroup('audit')).totalLag === 0, 'audit caught up');
    expect(h.applied.worker).toEqual([1]);
    expect(await h.stores.transaction(async (tx) => tx.keys('worker/'))).toHaveLength(1);
    // audit read both redrive records (its lag is 0) and handled neither: ignored, not even a duplicate
    expect(h.applied.audit).toEqual([1]);
    expect(handledIn(h, 'audit')).toHaveLength(1);
  });

  it('keeps a park-key key in order: redriven letters apply in order, and a letter that fails again parks the rest of its run', async () => {
    const h = await start('park-key');
    h.sick.add('k/0');
    for (let seq = 0; seq < 3; seq++) await h.app.publish(Step, { key: 'k', seq });
    await eventually(async () => (await h.app.deadLetters({ status: 'parked' })).length === 2, 'seq 1 and 2 parked behind seq 0');
    const firstRun = await h.app.deadLetters({ group: 'worker' });
    expect(firstRun.map((l) => [JSON.parse(l.envelope).data.seq, l.status])).toEqual([[0, 'dead'], [1, 'parked'], [2, 'parked']]);

    // still failing: the run's first record fails again and the others park behind it, not behind the originals
    const run = await redriveThroughLog(h, firstRun);
    // each original letter is settled (marked redriven) once its record was handled, into a letter of the run's own
    await eventually(async () => (await h.app.deadLetters({ ids: firstRun.map((l) => l.id) })).every((l) => l.status === 'redriven'), 'the run handled');
    expect((await h.app.deadLetters({ group: 'worker', status: 'parked' })).length).toBe(2);
    expect((await h.app.deadLetters({ status: 'dead' })).length).toBe(1);
    expect(h.applied.worker).toEqual([]);
    const secondRun = [...(await h.app.deadLetters({ group: 'worker', status: 'dead' })), ...(await h.app.deadLetters({ group: 'worker', status: 'parked' }))];
    expect(secondRun.map((l) => [JSON.parse(l.envelope).data.seq, l.status, l.headers[REDRIVE_HEADERS.run]])).toEqual([
      [0, 'dead', run],
      [1, 'parked', run],
      [2, 'parked', run],
    ]);

    // fixed: the whole key applies in its original order, and the key flows again
    h.sick.clear();
    await redriveThroughLog(h, secondRun);
    await eventually(() => h.applied.worker!.length === 3, 'the key applied');
    expect(h.applied.worker).toEqual([0, 1, 2]);
    await h.app.publish(Step, { key: 'k', seq: 3 });
    await eventually(() => h.applied.worker!.length === 4, 'a new event of the key applied, not parked');
    expect(h.applied.worker).toEqual([0, 1, 2, 3]);
    expect([...(await h.app.deadLetters({ status: 'dead' })), ...(await h.app.deadLetters({ status: 'parked' }))]).toEqual([]);
  });

  it('parks an event that arrives while a redrive run of its key is pending, behind the run, not ahead of it', async () => {
    const h = await start('park-key');
    h.sick.add('k/0');
    await h.app.publish(Step, { key: 'k', seq: 0 });
    await eventually(async () => (await h.app.deadLetters({ status: 'dead' })).length === 1, 'seq 0 dead');
    const letters = await h.app.deadLetters({ group: 'worker' });
    h.sick.clear();
    // a new event of the key lands before the redrive record: it parks (seq 0 is still dead)
    await h.app.publish(Step, { key: 'k', seq: 1 });
    await eventually(async () => (await h.app.deadLetters({ status: 'parked' })).length === 1, 'seq 1 parked');
    await redriveThroughLog(h, letters);
    await eventually(() => h.applied.worker!.length === 1, 'the redrive applied');
    expect(h.applied.worker).toEqual([0]);
    const parked = await h.app.deadLetters({ group: 'worker', status: 'parked' });
    expect(parked.map((l) => JSON.parse(l.envelope).data.seq)).toEqual([1]);
    await redriveThroughLog(h, parked);
    await eventually(() => h.applied.worker!.length === 2, 'the later event applied after it');
    expect(h.applied.worker).toEqual([0, 1]);
  });

  it('holds the key until the group handled the redrive: an event of the key it reads first parks behind it', async () => {
    // the group is stopped for a fix while a new event of the parked key arrives; then the letter
    // is redriven and the group starts again: the new event sits before the redrive record in the log
    const { broker, stores, applied, start: run } = processes({ partitions: 2, batch: false });
    const sick = await run({ sick: true, groups: true });
    await sick.publish(Step, { key: 'k', seq: 0 });
    await eventually(async () => (await sick.deadLetters({ status: 'dead' })).length === 1, 'seq 0 dead');
    await sick.close();

    const producer = await run({ sick: false, groups: false });
    await producer.publish(Step, { key: 'k', seq: 1 });
    await eventually(() => broker.records('steps').length === 2, 'seq 1 on the log, unread by the stopped group');
    await producer.close();
    const [letter] = await stores.deadLetters.list({ status: 'dead' });
    await redriveThroughLog({ broker }, [letter!]);

    const healthy = await run({ sick: false, groups: true });
    await eventually(async () => applied.length === 1 && (await healthy.deadLetters({ ids: [letter!.id] }))[0]!.status === 'redriven', 'the redrive applied and its letter marked');
    const parked = await healthy.deadLetters({ status: 'parked' });
    expect(parked.map((l) => JSON.parse(l.envelope).data.seq)).toEqual([1]);
    expect(applied).toEqual([0]);
    await redriveThroughLog({ broker }, parked);
    await eventually(() => applied.length === 2, 'the later event applied after it');
    expect(applied).toEqual([0, 1]);
  });

  for (const batch of [false, true]) {
    it(`skips a redrive whose letter was discarded after its record was appended (${batch ? 'batch' : 'event'} handlers)`, async () => {
      const p = processes({ partitions: 1, batch });
      const letter = await deadLetterOfFailingMember(p);
      await redriveThroughLog(p, [letter!]);
      // the operator changes their mind before any consumer read the record
      expect(await p.stores.deadLetters.discard([letter!.id])).toBe(1);
      const healthy = await p.start({ sick: false, groups: true });
      await healthy.publish(Step, { key: 'k', seq: 2 });
      await eventually(() => p.applied.includes(2), 'the next event applied');
      expect(p.applied).toEqual([2]);
      expect((await p.stores.deadLetters.list({ ids: [letter!.id] }))[0]!.status).toBe('discarded');
    });
  }

  it('dead-letters a letter redriven by two runs at once that fails again only once', async () => {
    const h = await start('skip');
    h.sick.add('a/1');
    await h.app.publish(Step, { key: 'a', seq: 1 });
    await eventually(async () => (await h.app.deadLetters({ status: 'dead' })).length === 1, 'a dead letter');
    const [letter] = await h.app.deadLetters();
    // two operators' runs append the same letter before the group reads either
    await redriveThroughLog(h, [letter!]);
    await redriveThroughLog(h, [letter!]);
    await eventually(async () => (await h.app.deadLetters({ ids: [letter!.id] }))[0]!.status === 'redriven', 'the first record handled');
    await eventually(async () => (await h.broker.describeGroup('worker')).totalLag === 0, 'worker caught up');
    const letters = await h.app.deadLetters();
    expect(letters.map((l) => l.status).sort()).toEqual(['dead', 'redriven']);
  });

  it('in a batch group, dead-letters a letter whose two redrive records arrive in one batch and fail again only once', async () => {
    const p = processes({ partitions: 1, batch: true });
    const letter = await deadLetterOfFailingMember(p);
    // both records wait in the log, so the next member reads them in one batch
    await redriveThroughLog(p, [letter!]);
    await redriveThroughLog(p, [letter!]);
    const still = await p.start({ sick: true, groups: true });
    await eventually(async () => (await p.stores.deadLetters.list({ ids: [letter!.id] }))[0]!.status === 'redriven', 'the first record handled');
    await eventually(async () => (await p.broker.describeGroup('worker')).totalLag === 0, 'worker caught up');
    expect((await p.stores.deadLetters.list()).map((l) => l.status).sort()).toEqual(['dead', 'redriven']);
    await still.close();
  });

  it('settles the letter of a redrive that a batch handler handled', async () => {
    const broker = memoryBroker({ partitions: 2 });
    const stores = memoryStores();
    let sick = true;
    const applied: number[] = [];
    const app = createApp<MemoryTx>({ broker, stores, logger: silentLogger, handlerDefaults: { retry: { maxAttempts: 1 } }, groups: { worker: { commitIntervalMs: 10 } }, relay: { idleMs: 2 } });
    apps.push(app);
    app.onBatch(Step, { group: 'worker' }, async (batch) => {
      if (sick) throw new Error('batch failed');
      applied.push(...batch.map((e) => e.data.seq));
    });
    await app.start();
    await app.publish(Step, { key: 'k', seq: 7 });
    await eventually(async () => (await app.deadLetters({ status: 'dead' })).length === 1, 'seq 7 dead');
    const [letter] = await app.deadLetters();
    sick = false;
    await redriveThroughLog({ broker }, [letter!]);
    await eventually(async () => (await app.deadLetters({ ids: [letter!.id] }))[0]!.status === 'redriven', 'the letter marked');
    expect(applied).toEqual([7]);
  });

  it('in a batch group, settles each redrive before the next event: an event of the key read in the same batch is applied, not parked', async () => {
    const { broker, stores, applied, start: run } = processes({ partitions: 1, batch: true });
    const sick = await run({ sick: true, groups: true });
    await sick.publish(Step, { key: 'k', seq: 0 });
    await sick.publish(Step, { key: 'k', seq: 1 });
    await eventually(async () => (await sick.deadLetters()).length === 2, 'seq 0 dead, seq 1 parked');
    await sick.close();
    const letters = await stores.deadLetters.list({ group: 'worker' });
    // the group is stopped: the redrive records and a new event of the key wait for it together
    await redriveThroughLog({ broker }, letters);
    const producer = await run({ sick: false, groups: false });
    await producer.publish(Step, { key: 'k', seq: 2 });
    await eventually(() => broker.records('steps').length === 5, 'the redrives and seq 2 on the log');
    await producer.close();

    await run({ sick: false, groups: true });
    await eventually(() => applied.length === 3, 'the key applied');
    expect(applied).toEqual([0, 1, 2]);
    expect((await stores.deadLetters.list({ ids: letters.map((l) => l.id) })).map((l) => l.status)).toEqual(['redriven', 'redriven']);
    expect(await stores.deadLetters.list({ status: 'parked' })).toEqual([]);
  });

  it('retries a failed mark on its own: a redrive that failed again is dead-lettered once, not once per attempt to mark it', async () => {
    const broker = memoryBroker({ partitions: 2 });
    const stores = memoryStores();
    let failMarks = 0;
    const deadLetters = Object.create(stores.deadLetters) as typeof stores.deadLetters;
    deadLetters.setStatus = async (ids, status) => {
      if (failMarks > 0) {
        failMarks--;
        throw new Error('store busy');
      }
      return stores.deadLetters.setStatus(ids, status);
    };
    const app = createApp<MemoryTx>({ broker, stores: { ...stores, deadLetters }, logger: silentLogger, handlerDefaults: { retry: { maxAttempts: 1 } }, groups: { worker: { commitIntervalMs: 10 } }, relay: { idleMs: 2 } });
    apps.push(app);
    app.on(Step, { group: 'worker' }, async (event) => {
      throw new Error(`step ${event.data.seq} failed`);
    });
    await app.start();
    await app.publish(Step, { key: 'k', seq: 0 });
    await eventually(async () => (await stores.deadLetters.list({ status: 'dead' })).length === 1, 'seq 0 dead');
    const [letter] = await stores.deadLetters.list({ status: 'dead' });
    failMarks = 2;
    await redriveThroughLog({ broker }, [letter!]);
    await eventually(async () => (await stores.deadLetters.list({ ids: [letter!.id] }))[0]!.status === 'redriven', 'the letter marked after two failed tries');
    expect(failMarks).toBe(0);
    const dead = await stores.deadLetters.list({ status: 'dead' });
    expect(dead.map((l) => l.eventId), 'one new letter for the failed redrive').toEqual([letter!.eventId]);
  });

  it('stops retrying a failed mark when its partition is revoked: the rebalance goes on, and the new owner settles the letter from the redelivered record', async () => {
    // the pause between tries runs on this clock, which moves only when told: only the revoke ends it
    const clock = createManualClock(Date.now());
    const broker = memoryBroker({ partitions: 2 });
    const stores = memoryStores();
    let marksDown = false;
    const deadLetters = Object.create(stores.deadLetters) as typeof stores.deadLetters;
    deadLetters.setStatus = async (ids, status) => {
      if (marksDown) throw new Error('store busy');
      return stores.deadLetters.setStatus(ids, status);
    };
    let sick = true;
    const applied: number[] = [];
    const member = () => {
      const app = createApp<MemoryTx>({ broker: broker.connect(), stores: { ...stores, deadLetters, close: async () => {} }, clock, logger: silentLogger, handlerDefaults: { retry: { maxAttempts: 1 } }, relay: false });
      app.on(Step, { group: 'worker' }, async (event, ctx) => {
        if (sick) throw new Error(`step ${event.data.seq} failed`);
        applied.push(event.data.seq);
        ctx.tx.set(`worker/${event.id}`, event.data.seq);
      });
      apps.push(app);
      return app;
    };
    // a key of partition 1: the partition a second member takes
    const key = ['a', 'b', 'c', 'd'].find((k) => partitionForKey(k, 2) === 1)!;
    const first = member();
    await first.start();
    await first.publishDirect(Step, { key, seq: 1 });
    await eventually(async () => (await stores.deadLetters.list({ status: 'dead' })).length === 1, 'seq 1 dead');
    const [letter] = await stores.deadLetters.list({ status: 'dead' });
    sick = false;
    marksDown = true;
    await redriveThroughLog({ broker }, [letter!]);
    await eventually(() => applied.length === 1, 'the redrive applied, its letter not marked');
    const second = member();
    const ready = readyInBackground(second);
    await eventually(ready, 'the second member assigned the partition while marks still fail', 3_000);
    // handled but not committed: the new owner gets the record again, a duplicate, and marks it
    // once the store takes marks again (its pause between tries ends when the clock moves)
    expect((await stores.deadLetters.list({ ids: [letter!.id] }))[0]!.status).toBe('dead');
    marksDown = false;
    await eventually(async () => {
      await clock.advance(5_000); // the longest pause between tries of a mark
      return (await stores.deadLetters.list({ ids: [letter!.id] }))[0]!.status === 'redriven';
    }, 'the letter settled by the new owner, with no redrive again');
    expect(applied).toEqual([1]);
  });
});



