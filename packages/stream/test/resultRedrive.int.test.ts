import { describe, expect, it } from 'vitest';
import { createApp, redriveRecord, silentLogger, uuidv7, type App, type DeadLetter, type SqlTx } from '@herald/core';
import { eventually } from '@herald/testing';
import { TimeWindows, createTopology } from '../src/index.js';
import { Click, ClickCounts, LateClicks, readTopic, topics } from './support.js';
import { embeddedEngines } from './embedded.js';

// A window's result dead-lettered because its sink refused it is emitted again downstream, once,
// when the operator fixed the cause and redrives its letter: in process (`app.redrive`) or through
// the log (the record `herald dlq redrive` appends). On the embedded engine (a real SQLite file).

const engines = embeddedEngines('herald-result-redrive-');

/** Counts clicks per user and 1 s window; while `sink.broken`, the mapper breaks ClickCounts' schema. */
async function started(options: { aggregation?: string; dir?: string } = {}) {
  const engine = engines.open(options.dir);
  await engine.broker.ensureTopics(topics(1));
  const app = createApp<SqlTx>({ name: 'result-redrive', broker: engine.broker, stores: engine.stores, topics: topics(1), logger: silentLogger });
  engines.track(app);
  const sink = { broken: true };
  const topology = createTopology<SqlTx>({ name: 'clicks', idleTimeoutMs: false, handler: { retry: { maxAttempts: 1 } } });
  topology
    .from(Click)
    .groupByKey()
    .windowedBy(TimeWindows.ofSizeWithNoGrace(1_000))
    .count(options.aggregation ?? 'per-user', { late: { to: LateClicks } })
    .to(ClickCounts, (r) => ({ userId: r.key, start: r.value.start, clicks: sink.broken ? 'many' : r.value.value }) as never);
  topology.install(app);
  // another group of the app reading the same topic: a redrive through the log is not its business
  app.on(Click, { group: 'audit' }, async () => {});
  let handled = 0;
  app.instrumentation.on((fact) => {
    if (fact.kind === 'handled' && fact.group === 'clicks') handled++;
  });
  await app.start();
  await app.ready();
  return { app, engine, sink, handled: () => handled };
}

type Started = Awaited<ReturnType<typeof started>>;

const published = async () =>
  (await readTopic(engines.engine.broker, ClickCounts.topic, 1)).map((e) => e.data as { userId: string; start: number; clicks: number }).map((d) => `${d.userId}@${d.start}=${d.clicks}`);

const lettersOf = (app: App<SqlTx>, group: string) => app.stores.deadLetters.list({ group });

/** bad's window [0, 1000) closes (good's click at 1.5 s) while the sink is broken: its result is dead-lettered. */
async function letterBadResult(t: Started): Promise<DeadLetter> {
  await t.app.publishDirect(Click, { userId: 'bad', seq: 1 }, { occurredAt: new Date(100) });
  await t.app.publishDirect(Click, { userId: 'good', seq: 2 }, { occurredAt: new Date(1_500) });
  await eventually(() => (t.handled() === 2 ? true : undefined), 20_000, 'the clicks to be handled', 20);
  const letters = await lettersOf(t.app, 'clicks');
  expect(letters.map((l) => [l.handler, l.eventType, l.key, l.reason, l.status])).toEqual([['clicks:stream', 'herald.stream.WindowResult.clicks', 'bad', 'schema-violation', 'dead']]);
  return letters[0]!;
}

/** Closes good's window [1000, 2000) and waits for its result on the topic: what was emitted before it is there too. */
async function flushed(t: Started): Promise<string[]> {
  await t.app.publishDirect(Click, { userId: 'good', seq: 3 }, { occurredAt: new Date(2_500) });
  return eventually(async () => {
    const all = await published();
    return all.includes('good@1000=1') ? all : undefined;
  }, 20_000, "good's result to be published", 20);
}

const statusOf = async (app: App<SqlTx>, id: string) => (await app.stores.deadLetters.list({ ids: [id] }))[0]?.status;

describe("a window result's dead letter", () => {
  it('is emitted again downstream, once, by app.redrive once its sink is fixed', async () => {
    const t = await started();
    const letter = await letterBadResult(t);
    t.sink.broken = false;
    expect(await t.app.redrive({ group: 'clicks', ids: [letter.id] })).toEqual({ redriven: 1, failed: 0, stillParked: 0 });
    expect(await statusOf(t.app, letter.id)).toBe('redriven');
    expect(await t.app.redrive({ group: 'clicks', ids: [letter.id] })).toEqual({ redriven: 0, failed: 0, stillParked: 0 });
    // reopened (as `herald dlq redrive --status redriven` does): the inbox knows its event was applied
    await t.app.stores.deadLetters.setStatus([letter.id], 'dead');
    expect(await t.app.redrive({ group: 'clicks', ids: [letter.id] })).toEqual({ redriven: 1, failed: 0, stillParked: 0 });
    expect(await flushed(t)).toEqual(['bad@0=1', 'good@1000=1']);
    expect(await lettersOf(t.app, 'clicks')).toHaveLength(1);
  });

  it('is emitted again downstream, once, by a redrive through the log, and other groups ignore it', async () => {
    const t = await started();
    const letter = await letterBadResult(t);
    t.sink.broken = false;
    for (let run = 0; run < 2; run++) {
      // the second run as `herald dlq redrive --status redriven` does it: the letter reopened, its record appended again
      if (run > 0) await t.app.stores.deadLetters.setStatus([letter.id], 'dead');
      await t.engine.broker.publish([redriveRecord(letter, uuidv7())]);
      await eventually(async () => ((await statusOf(t.app, letter.id)) === 'redriven' ? true : undefined), 20_000, 'the group to handle the redrive', 20);
    }
    expect(await flushed(t)).toEqual(['bad@0=1', 'good@1000=1']);
    expect(await lettersOf(t.app, 'clicks')).toHaveLength(1);
    expect(await lettersOf(t.app, 'audit')).toEqual([]);
  });

  it('fails with result-aggregation-unknown once its aggregation was renamed, and stays dead', async () => {
    const first = await started();
    const letter = await letterBadResult(first);
    const dir = engines.dataDir;
    await engines.stop();
    const t = await started({ aggregation: 'per-person', dir });
    t.sink.broken = false;
    expect(await t.app.redrive({ group: 'clicks', ids: [letter.id] })).toEqual({ redriven: 0, failed: 1, stillParked: 0 });
    expect(await statusOf(t.app, letter.id)).toBe('dead');
    // through the log, its failure is a letter of its own, with the code as its reason
    await t.engine.broker.publish([redriveRecord(letter, uuidv7())]);
    const again = await eventually(async () => (await lettersOf(t.app, 'clicks')).find((l) => l.id !== letter.id), 20_000, 'the redrive to fail into a letter', 20);
    expect(again).toMatchObject({ reason: 'result-aggregation-unknown', eventType: 'herald.stream.WindowResult.clicks', key: 'bad' });
    expect(await published()).toEqual([]);
  });
});
