import { partitionForKey, type App, type EventDefinition, type Publish, type PublishOptions, type SqlTx } from '@herald/core';
import { pgAnalytics, type AnalyticsStore } from '@herald/analytics';
import type { Engine } from '@herald/engine';
import { startPostgresCluster, type PostgresCluster } from '@herald/testing/postgres-cluster';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendEvents, envelopeIdOf, type IngestEvent } from '../src/ingest.js';
import type { Queries } from '../src/queries.js';
import { eventually } from './support/client.js';
import { startConsumerApp } from './support/consumerApp.js';
import { tempDataDir } from './support/inProcess.js';

/**
 * The consumer, on the PostgreSQL analytics store, given events its producer would have refused
 * but that reached the log another way (another writer, an older producer): each is dead-lettered
 * by itself, and every other event of its partition is counted as if it had never come.
 * - Half an emoji pair (a lone surrogate) in a property: jsonb cannot hold it. Taken into its
 *   minute, the append of the whole minute failed when the minute closed, as "unavailable": every
 *   record that then tried to close the minute was retried and dead-lettered in its place, the
 *   partition's stream time stopped, and `counts` answered nothing for any partition.
 * - An event from a client whose clock is 4 minutes fast: taken, it moved its partition's stream
 *   time 4 minutes ahead, and every right event of the partition for those minutes was late.
 */
describe('the consumer, given events that did not pass its producer', () => {
  const GRACE_MS = 10_000;
  const data = tempDataDir('analytics-guards');
  let cluster: PostgresCluster | undefined;
  let store: AnalyticsStore | undefined;
  let engine: Engine | undefined;
  let app: App<SqlTx> | undefined;
  let queries: Queries | undefined;
  beforeAll(async () => {
    cluster = await startPostgresCluster();
    store = await pgAnalytics({ connectionString: await cluster.createDatabase('analytics_guards') });
    ({ engine, app, queries } = await startConsumerApp({ name: 'guards', dataDir: data.dir, store, graceMs: GRACE_MS, handlerDefaults: { retry: { maxAttempts: 3, initialDelayMs: 10, maxDelayMs: 50 }, deadLetter: 'skip' } }));
  });
  afterAll(async () => {
    await app?.close({ deadlineMs: 5_000 });
    await store?.close();
    await cluster?.stop();
    data.remove();
  });

  it('dead-letters each by itself, and counts every other event of their partitions on time', { timeout: 60_000 }, async () => {
    const users = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'gina', 'hank'];
    // both bad events are on one partition, each with a user of its own there
    const partition = partitionForKey('alice', 3);
    const fastUser = users.find((u) => u !== 'alice' && partitionForKey(u, 3) === partition)!;
    expect(fastUser).toBeDefined();
    const M = Math.floor(Date.now() / 60_000) * 60_000 - 30 * 60_000;
    const event = (eventId: string, userId: string, at: number, element = 'buy'): IngestEvent => ({ eventId, userId, type: 'click', timestamp: new Date(at).toISOString(), properties: { element } });
    const slice = (minute: number) => users.map((u, i) => event(`m${minute}-${u}`, u, M + minute * 60_000 + 20_000 + i));
    const cut = event('cut-emoji', 'alice', M + 5_000, 'caf\ud83d'); // a client cutting text at N UTF-16 units
    const fast = event('fast-clock', fastUser, Date.now() + 4 * 60_000);

    const send = (events: IngestEvent[]) => appendEvents(app!.publishDirect, events);
    // Herald's own publishers refuse such text now; another writer (JSON.stringify escapes the half pair) does not
    await expect(send([cut])).rejects.toMatchObject({ code: 'schema-violation' });
    const foreign = (async (definition: EventDefinition, d: unknown, options: PublishOptions = {}) => {
      const id = options.id!;
      const envelope = { id, type: definition.type, version: definition.version, topic: definition.topic, key: definition.key(d), correlationId: id, causationId: null, occurredAt: options.occurredAt!.toISOString(), headers: {}, data: d };
      await engine!.broker.publish([{ topic: envelope.topic, key: envelope.key, value: JSON.stringify(envelope), headers: {} }]);
      return envelope;
    }) as unknown as Publish;
    await appendEvents(foreign, [cut]);
    await send(slice(0));
    await send(slice(1));
    await send([fast]);
    for (let minute = 2; minute <= 5; minute++) await send(slice(minute));

    // minutes 0 to 4 are final once every partition has seen minute 5 past the grace
    const expected = [0, 1, 2, 3, 4].map((k) => ({
      windowStart: new Date(M + k * 60_000).toISOString(),
      windowEnd: new Date(M + (k + 1) * 60_000).toISOString(),
      count: users.length,
      uniqueUsers: users.length,
    }));
    const range = { from: new Date(M).toISOString(), to: new Date(M + 10 * 60_000).toISOString(), window: '1m' };
    let last: unknown;
    await eventually(
      async () => {
        const [counts, letters] = await Promise.all([queries!.counts(range), app!.deadLetters()]);
        last = { counts, letters: letters.map((l) => [l.eventId, l.reason]) };
        return counts.series.length >= expected.length && letters.length >= 2 ? true : undefined;
      },
      30_000,
      () => `minutes 0 to 4 final and two dead letters; last ${JSON.stringify(last)}`,
    );
    expect((await queries!.counts(range)).series).toEqual(expected);
    const letters = await app!.deadLetters();
    expect(new Map(letters.map((l) => [l.eventId, l.reason]))).toEqual(
      new Map([
        // refused by Herald's consumer before the handler: data no store keeps as it is
        [envelopeIdOf('cut-emoji'), 'schema-violation'],
        [envelopeIdOf('fast-clock'), 'invalid-event-time'],
      ]),
    );
    expect((await queries!.late(range)).late).toEqual([]);
  });
});
