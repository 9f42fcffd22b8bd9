import { describe, expect, it } from 'vitest';
import { CoreErrors, HeraldError, createApp, createManualClock, decodeEnvelope, silentLogger, type App, type ManualClock, type SqlTx } from '@herald/core';
import { eventually } from '@herald/testing';
import { TimeWindows, createTopology, type Topology } from '../src/index.js';
import { Click, ClickCounts, LateClicks, readTopic, topics } from './support.js';
import { embeddedEngines } from './embedded.js';

// A window's result that cannot be emitted for good (a sink's schema refuses it, a forEach on the
// results keeps failing) is dead-lettered with its window, and the partition goes on: the other
// keys' results of the same close, and later windows, are emitted, whether a record or an idle
// punctuation closed them. On the embedded engine (a real SQLite file), one partition.

const SIZE_MS = 1_000;
const IDLE_MS = 1_000;

const engines = embeddedEngines('herald-result-dl-');

interface Setup {
  /** The app's clock; with one, idle partitions are punctuated after IDLE_MS. */
  readonly clock?: ManualClock;
  /** What a result of `key` fails with in a forEach on the results (nothing: it is emitted); without it, user `bad`'s results break ClickCounts' schema. */
  readonly failWith?: (key: string) => Error | undefined;
  /** Builds the topology instead (pushing what it emits to `results`). */
  readonly build?: (topology: Topology<SqlTx>, results: string[]) => void;
}

/** Counts clicks per user and 1 s window (no grace), final results only, 2 attempts per batch or punctuation. */
async function started(setup: Setup = {}) {
  const engine = engines.open();
  await engine.broker.ensureTopics(topics(1));
  const app = createApp<SqlTx>({ name: 'result-dl', broker: engine.broker, stores: engine.stores, topics: topics(1), logger: silentLogger, ...(setup.clock ? { clock: setup.clock, relay: false } : {}) });
  engines.track(app);
  const retry = { maxAttempts: 2, initialDelayMs: 1, maxDelayMs: 1, jitter: 0 };
  const topology = createTopology<SqlTx>({ name: 'clicks', idleTimeoutMs: setup.clock ? IDLE_MS : false, punctuateIntervalMs: 100, handler: { retry } });
  const results: string[] = [];
  if (setup.build) setup.build(topology, results);
  const counts = setup.build ? undefined : topology.from(Click).groupByKey().windowedBy(TimeWindows.ofSizeWithNoGrace(SIZE_MS)).count('per-user', { late: { to: LateClicks } });
  const { failWith } = setup;
  if (counts && failWith) {
    counts.forEach(async (r) => {
      const error = failWith(r.key);
      if (error) throw error;
      results.push(`${r.key}@${r.value.start}=${r.value.value}`);
    });
  } else if (counts) {
    counts.to(ClickCounts, (r) => ({ userId: r.key, start: r.value.start, clicks: r.key === 'bad' ? 'many' : r.value.value }) as never);
  }
  topology.install(app);
  let handled = 0;
  let punctuationFailures = 0;
  app.instrumentation.on((fact) => {
    if (fact.kind === 'handled' && fact.group === 'clicks') handled++;
    if (fact.kind === 'punctuation-failed') punctuationFailures++;
  });
  await app.start();
  await app.ready();
  return { app, results, handled: () => handled, punctuationFailures: () => punctuationFailures };
}

const published = async () =>
  (await readTopic(engines.engine.broker, ClickCounts.topic, 1)).map((e) => e.data as { userId: string; start: number; clicks: number }).map((d) => `${d.userId}@${d.start}=${d.clicks}`);

/** The one dead letter of the group, checked to be the result of `bad`'s window [0, 1000), and its reason and attempts. */
async function resultLetter(app: App<SqlTx>) {
  const letters = await app.stores.deadLetters.list({ group: 'clicks' });
  // no click is dead-lettered: only the result that failed
  expect(letters.map((l) => [l.key, l.eventType, l.status])).toEqual([['bad', 'herald.stream.WindowResult.clicks', 'dead']]);
  const letter = letters[0]!;
  expect(letter).toMatchObject({ handler: 'clicks:stream', topic: 'clicks', partition: 0, offset: -1 });
  expect(decodeEnvelope(letter.envelope, letter.headers).data).toEqual({ aggregation: 'per-user', store: 'clicks.per-user', key: 'bad', start: 0, end: 1_000, kind: 'final', value: 1 });
  return { reason: letter.reason, attempts: letter.attempts };
}

/** Moves the manual clock on 100 ms at a time, letting what each step wakes run, until `probe` answers. */
const advanceUntil = <T>(clock: ManualClock, probe: () => T | undefined, what: string): Promise<T> =>
  eventually(
    async () => {
      const value = probe();
      if (value === undefined) await clock.advance(100);
      return value;
    },
    20_000,
    what,
    5,
  );

const refused = () => new HeraldError(CoreErrors.handlerFailed, 'refused for good', { retriable: false });

describe("a window's result that fails for good, closed by a record", () => {
  it('is dead-lettered with its window when its event breaks the schema, and the partition goes on', async () => {
    const { app, handled } = await started();
    await app.publishDirect(Click, { userId: 'bad', seq: 1 }, { occurredAt: new Date(100) });
    await app.publishDirect(Click, { userId: 'good', seq: 2 }, { occurredAt: new Date(200) });
    // closes [0, 1000) of both users, then [1000, 2000)
    await app.publishDirect(Click, { userId: 'good', seq: 3 }, { occurredAt: new Date(1_500) });
    await app.publishDirect(Click, { userId: 'good', seq: 4 }, { occurredAt: new Date(2_600) });
    await eventually(() => (handled() === 4 ? true : undefined), 20_000, 'the clicks to be handled', 20);
    await eventually(async () => ((await published()).length >= 2 ? true : undefined), 20_000, 'the relay to publish the results', 20).catch(() => undefined);
    expect(await published()).toEqual(['good@0=1', 'good@1000=1']);
    expect(await resultLetter(app)).toEqual({ reason: 'schema-violation', attempts: 1 });
  });

  it('is dead-lettered after its retries when its forEach keeps failing, and the partition goes on', async () => {
    const t = await started({ failWith: (key) => (key === 'bad' ? new Error('downstream unavailable') : undefined) }); // retriable
    await t.app.publishDirect(Click, { userId: 'bad', seq: 1 }, { occurredAt: new Date(100) });
    await t.app.publishDirect(Click, { userId: 'good', seq: 2 }, { occurredAt: new Date(200) });
    await t.app.publishDirect(Click, { userId: 'good', seq: 3 }, { occurredAt: new Date(1_500) });
    await t.app.publishDirect(Click, { userId: 'good', seq: 4 }, { occurredAt: new Date(2_600) });
    await eventually(() => (t.handled() === 4 ? true : undefined), 20_000, 'the clicks to be handled', 20);
    expect(t.results).toEqual(['good@0=1', 'good@1000=1']);
    expect(await resultLetter(t.app)).toEqual({ reason: 'handler-failed', attempts: 2 });
  });

  it('is taken back from the aggregation downstream of it', async () => {
    const t = await started({
      build: (topology, results) => {
        const perSecond = topology.from(Click).groupByKey().windowedBy(TimeWindows.ofSizeWithNoGrace(SIZE_MS)).count('per-second', { late: { to: LateClicks } });
        // attached first: bad's result reaches it before the forEach refuses it
        perSecond
          .groupByKey()
          .windowedBy(TimeWindows.ofSizeWithNoGrace(10 * SIZE_MS))
          .count('per-ten-seconds', { late: { handler: async () => {} } })
          .forEach(async (r) => void results.push(`${r.key}@${r.value.start}=${r.value.value}`));
        perSecond.forEach(async (r) => {
          if (r.key === 'bad') throw refused();
        });
      },
    });
    await t.app.publishDirect(Click, { userId: 'bad', seq: 1 }, { occurredAt: new Date(100) });
    await t.app.publishDirect(Click, { userId: 'good', seq: 2 }, { occurredAt: new Date(200) });
    // closes the first second of both, then a second whose result closes the first ten seconds
    await t.app.publishDirect(Click, { userId: 'good', seq: 3 }, { occurredAt: new Date(10_100) });
    await t.app.publishDirect(Click, { userId: 'good', seq: 4 }, { occurredAt: new Date(11_500) });
    await eventually(() => (t.handled() === 4 ? true : undefined), 20_000, 'the clicks to be handled', 20);
    expect(t.results).toEqual(['good@0=1']);
    const letters = await t.app.stores.deadLetters.list({ group: 'clicks' });
    expect(letters.map((l) => [l.key, l.reason])).toEqual([['bad', 'handler-failed']]);
  });
});

describe("a window's result that fails for good, closed by an idle punctuation", () => {
  const idleRun = async (failWith: (key: string) => Error | undefined, users = ['bad', 'good']) => {
    const clock = createManualClock(0);
    const t = await started({ clock, failWith });
    for (const [seq, userId] of users.entries()) await t.app.publishDirect(Click, { userId, seq }, { occurredAt: new Date(100 + seq) });
    await eventually(() => (t.handled() === users.length ? true : undefined), 20_000, 'the clicks to be handled', 5);
    await advanceUntil(clock, () => (t.results.length > 0 ? true : undefined), 'the idle partition to close its windows');
    return t;
  };

  it('is dead-lettered at once for a non-retriable error, and the other windows close', async () => {
    const t = await idleRun((key) => (key === 'bad' ? refused() : undefined));
    expect(t.results).toEqual(['good@0=1']);
    expect(await resultLetter(t.app)).toEqual({ reason: 'handler-failed', attempts: 1 });
    expect(t.punctuationFailures()).toBe(0);
  });

  it('fails the punctuation (a punctuation-failed fact) until its attempts are used up, then is dead-lettered', async () => {
    const t = await idleRun((key) => (key === 'bad' ? new Error('downstream unavailable') : undefined));
    expect(t.results).toEqual(['good@0=1']);
    expect(await resultLetter(t.app)).toEqual({ reason: 'handler-failed', attempts: 2 });
    expect(t.punctuationFailures()).toBe(1);
  });

  it('is dead-lettered once when the punctuation that lettered it fails after it and runs again', async () => {
    // bad's window closes before flaky's (same bounds, key order): the first punctuation letters
    // bad's result, then fails on flaky's, and rolls back; the second closes both again
    let flakyCalls = 0;
    const t = await idleRun((key) => (key === 'bad' ? refused() : key === 'flaky' && ++flakyCalls === 1 ? new Error('downstream unavailable') : undefined), ['bad', 'flaky']);
    expect(t.results).toEqual(['flaky@0=1']);
    expect(t.punctuationFailures()).toBe(1);
    expect(await resultLetter(t.app)).toEqual({ reason: 'handler-failed', attempts: 1 });
  });
});
