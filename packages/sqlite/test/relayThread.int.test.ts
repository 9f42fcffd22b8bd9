import { renameSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Type } from '@sinclair/typebox';
import { createApp, createInstrumentation, defineEvent, HeraldError, isChaosError, silentLogger, type Delivery, type InstrumentationEvent } from '@herald/core';
import { sqliteEngine, type SqliteEngine } from '@herald/sqlite';
import { tempDir, waitFor } from './helpers.js';

const Noted = defineEvent({ type: 'Noted', topic: 'notes', key: (d) => d.id, schema: Type.Object({ id: Type.String() }) });

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

/** Where each engine of {@link engine} keeps its files (an engine spread into createApp carries only its own keys). */
const dataDirs = new WeakMap<SqliteEngine, string>();
const dataDirOf = (opened: SqliteEngine) => dataDirs.get(opened)!;

function engine(relayThread = true): SqliteEngine {
  const tmp = tempDir('herald-relay-thread-');
  const opened = sqliteEngine({ dataDir: tmp.dir, relayThread });
  cleanup.push(async () => {
    await opened.close();
    tmp.remove();
  });
  dataDirs.set(opened, tmp.dir);
  return opened;
}

/** Records in the outbox not yet published, read through a fresh handle (the app closed its own). */
async function pending(dataDir: string): Promise<number> {
  const reader = sqliteEngine({ dataDir });
  try {
    return (await reader.stores.outbox.backlog()).reduce((sum, topic) => sum + topic.pending, 0);
  } finally {
    await reader.close();
  }
}

/** An app on `opened` whose group `notes-reader` collects the ids of the notes it handles, started. */
async function startNoteReader(opened: SqliteEngine, idleMs: number) {
  const app = createApp({ name: 'relay-thread', ...opened, logger: silentLogger, events: [Noted], relay: { idleMs } });
  const seen: string[] = [];
  app.on(Noted, { group: 'notes-reader' }, async (event) => void seen.push(event.data.id));
  await app.start();
  return { app, seen };
}

describe('sqliteEngine relayThread', () => {
  it('provides a relay host only when asked', () => {
    expect(engine(false).relayHost).toBeUndefined();
    expect(engine(true).relayHost).toBeDefined();
  });

  it('creates a topic the app did not declare with the app’s log options, as the app’s own relay would', async () => {
    const tmp = tempDir('herald-relay-thread-');
    const opened = sqliteEngine({ dataDir: tmp.dir, relayThread: true, log: { defaultPartitions: 1 } });
    cleanup.push(async () => {
      await opened.close();
      tmp.remove();
    });
    // no group reads `notes` here, so the relay thread's append is what creates the topic
    const app = createApp({ name: 'relay-thread', ...opened, logger: silentLogger, events: [Noted], relay: { idleMs: 5 } });
    await app.start();
    await app.publish(Noted, { id: 'n1' });
    await waitFor(async () => (await opened.broker.describeTopics(['notes'])).length === 1, 10_000, 'the topic created by the relay');
    const [topic] = await opened.broker.describeTopics(['notes']);
    expect(topic!.partitions).toHaveLength(1);
    await app.close();
  });

  it('publishes what the app commits, its facts arriving on the app’s instrumentation', async () => {
    const opened = engine();
    const app = createApp({ name: 'relay-thread', ...opened, logger: silentLogger, events: [Noted], relay: { idleMs: 5 } });
    const facts: InstrumentationEvent[] = [];
    app.instrumentation.on((fact) => facts.push(fact));
    const seen: string[] = [];
    app.on(Noted, { group: 'notes-reader' }, async (event) => void seen.push(event.data.id));
    await app.start();
    await app.publish.many(Noted, Array.from({ length: 50 }, (_, i) => ({ id: `n${i}` })));
    await waitFor(() => seen.length === 50, 10_000, 'every note handled');
    expect(new Set(seen).size).toBe(50);
    // the fact follows the mark, which the app's thread writes after the consumers saw the records
    const relayed = () => facts.reduce((sum, fact) => sum + (fact.kind === 'relayed' ? fact.count : 0), 0);
    await waitFor(() => relayed() >= 50, 10_000, 'relayed facts for every note');
    expect(relayed()).toBe(50);
    await app.close();
    expect(await pending(dataDirOf(opened))).toBe(0);
  });

  it('hands its consumers exactly the records the log file holds: offsets, keys, values, headers, timestamps', async () => {
    const opened = engine();
    const app = createApp({ name: 'relay-thread', ...opened, logger: silentLogger, events: [Noted], relay: { idleMs: 5 } });
    const seen: Delivery[] = [];
    app.on(Noted, { group: 'notes-reader' }, async (_event, ctx) => void seen.push(ctx.delivery));
    await app.start();
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    for (let call = 0; call < 4; call++) {
      await app.publish.many(Noted, Array.from({ length: 30 }, (_, i) => ({ id: `c${call}-${i}` })), { headers: { traceparent, 'x-call': `${call}` } });
      await Promise.all(Array.from({ length: 10 }, (_, i) => app.publish(Noted, { id: `s${call}-${i}` })));
    }
    await waitFor(() => seen.length === 160, 10_000, 'every note handled');
    for (const delivery of seen) {
      const [stored] = await opened.broker.read({ topic: delivery.topic, partition: delivery.partition, from: delivery.offset, limit: 1 });
      expect(delivery).toEqual(stored);
    }
    expect(seen.filter((d) => d.headers['x-call'] !== undefined)).toHaveLength(120);
    expect(new Set(seen.map((d) => `${d.partition}:${d.offset}`)).size).toBe(160);
  });

  it('still reads what another connection appends between the records it was handed', async () => {
    const opened = engine();
    const { app, seen } = await startNoteReader(opened, 5);
    const notes = (prefix: string) => Array.from({ length: 24 }, (_, i) => ({ id: `${prefix}${i}` }));
    await app.publish.many(Noted, notes('a'));
    await waitFor(() => seen.length === 24, 10_000, 'the relayed notes handled');
    // a second handle on the same files appends to the log itself: nothing hands these over, the
    // consumers waiting at the end of what they were handed must find them in the file
    const other = sqliteEngine({ dataDir: dataDirOf(opened) });
    const producer = createApp({ name: 'other-producer', ...other, logger: silentLogger, events: [Noted] });
    cleanup.push(async () => {
      await producer.close();
      await other.close();
    });
    await producer.publishDirect.many(Noted, notes('b'));
    await waitFor(() => seen.length === 48, 10_000, 'the notes appended by the other handle handled');
    // and what the relay thread hands over after that gap is read as well
    await app.publish.many(Noted, notes('c'));
    await waitFor(() => seen.length === 72, 10_000, 'the notes relayed after the gap handled');
    expect(new Set(seen).size).toBe(72);
  });

  it('relays a stream of one-event transactions promptly with a long idle time: no wake is lost', async () => {
    const opened = engine();
    // every record must travel on a wake: the relay's own timer would wait a minute
    const { app, seen } = await startNoteReader(opened, 60_000);
    // in waves of concurrent single-event transactions, and one at a time: appends land while a
    // wake is on its way, while the relay is in a round, and while it sleeps
    for (let wave = 0; wave < 5; wave++) {
      await Promise.all(Array.from({ length: 40 }, (_, i) => app.publish(Noted, { id: `w${wave}-${i}` })));
      await app.publish(Noted, { id: `single-${wave}` });
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await waitFor(() => seen.length === 205, 10_000, 'every note handled');
    expect(new Set(seen).size).toBe(205);
  });

  it('drains what is committed before close, with no consumer running', async () => {
    const opened = engine();
    // a long idle wait: only the close's drain can publish the second batch promptly
    const app = createApp({ name: 'relay-thread', ...opened, logger: silentLogger, events: [Noted], relay: { idleMs: 60_000 } });
    await app.start();
    await app.publish.many(Noted, Array.from({ length: 200 }, (_, i) => ({ id: `d${i}` })));
    await app.close({ deadlineMs: 10_000 });
    expect(await pending(dataDirOf(opened))).toBe(0);
    const reader = sqliteEngine({ dataDir: dataDirOf(opened) });
    const [notes] = await reader.broker.describeTopics(['notes']).finally(() => reader.close());
    expect(notes?.partitions.reduce((sum, partition) => sum + partition.end - partition.start, 0)).toBe(200);
  });

  it('reports a failed publish with its code and retriability, then publishes on retry', async () => {
    const opened = engine();
    const app = createApp({
      name: 'relay-thread',
      ...opened,
      logger: silentLogger,
      events: [Noted],
      relay: { idleMs: 5, backoff: { initialDelayMs: 1, maxDelayMs: 5 }, chaos: { failRate: 0.5 } },
    });
    const failures: Error[] = [];
    app.instrumentation.on((fact) => void (fact.kind === 'relay-failed' && failures.push(fact.error)));
    await app.start();
    // one relay round per note: with a failure rate of one half, twenty rounds all succeeding first time is a one-in-a-million run
    for (let i = 0; i < 20; i++) {
      await app.publish(Noted, { id: `c${i}` });
      await waitFor(async () => (await opened.stores.outbox.backlog()).length === 0, 10_000, 'the outbox to empty');
    }
    await app.close();
    expect(failures.length).toBeGreaterThan(0);
    expect(failures[0]).toBeInstanceOf(HeraldError);
    expect(isChaosError(failures[0])).toBe(true);
    expect((failures[0] as HeraldError).retriable).toBe(true);
  });

  it('closes at once after a failed start: the thread has exited already', async () => {
    const opened = engine();
    // the thread opens the store file itself: without one, its start fails
    renameSync(join(dataDirOf(opened), 'store.db'), join(dataDirOf(opened), 'moved.db'));
    const relay = opened.relayHost!.createRelay({}, { instrumentation: createInstrumentation(), logger: silentLogger });
    const failure = await relay.start(new AbortController().signal).then(() => undefined, (error: unknown) => error);
    expect(failure).toBeInstanceOf(Error);
    await new Promise((resolve) => setTimeout(resolve, 200)); // the thread is gone by now
    let timer: NodeJS.Timeout | undefined;
    const hung = new Promise<string>((resolve) => (timer = setTimeout(() => resolve('close() still pending after 5 s'), 5000)));
    expect(await Promise.race([relay.close({ deadlineMs: 0 }).then(() => 'closed'), hung])).toBe('closed');
    clearTimeout(timer);
    await expect(relay.ready!()).rejects.toBe(failure);
  });

  it('refuses a chaos random function, which cannot cross to the thread', async () => {
    const opened = engine();
    const app = createApp({ name: 'relay-thread', ...opened, logger: silentLogger, events: [Noted], relay: { chaos: { failRate: 0.1, random: Math.random } } });
    cleanup.push(() => app.close());
    await expect(app.start()).rejects.toMatchObject({ code: 'invalid-options' });
  });
});
