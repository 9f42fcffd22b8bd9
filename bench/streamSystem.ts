// The system the stream benchmark (bench/stream.ts) measures, as seed 001 builds it: ingest routes
// appending straight to the log, and a topology counting each user's events per one-minute window
// (5 s grace) in the window store, its results published through the outbox.
import { Type, type Static } from '@sinclair/typebox';
import { canEnsureTopics, createApp, createRelay, defineEvent, silentLogger, type App, type Publish, type SqlTx } from '@herald/core';
import { createGateway, type Gateway } from '@herald/http';
import { TimeWindows, createTopology, defineLateEvent } from '@herald/stream';
import { KAFKA_PG, type Engine } from './engines.js';

const GROUP = 'analytics';

export const AnalyticsEvent = defineEvent({
  type: 'AnalyticsEvent',
  topic: 'analytics-events',
  key: (d) => d.userId,
  schema: Type.Object({ eventId: Type.String({ minLength: 1 }), userId: Type.String({ minLength: 1 }), type: Type.String({ minLength: 1 }), properties: Type.Record(Type.String(), Type.Unknown()) }),
});
const UserActivity = defineEvent({
  type: 'UserActivity',
  topic: 'user-activity',
  key: (d) => d.userId,
  schema: Type.Object({ userId: Type.String(), windowStart: Type.Integer(), events: Type.Integer() }),
});
const LateAnalyticsEvent = defineLateEvent({ type: 'AnalyticsEventLate', topic: 'analytics-events-late', value: AnalyticsEvent.schema });
const IngestBody = Type.Object(
  {
    eventId: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    userId: Type.String({ minLength: 1, maxLength: 128 }),
    type: Type.String({ minLength: 1, maxLength: 64 }),
    timestamp: Type.String({ format: 'date-time' }),
    properties: Type.Record(Type.String(), Type.Unknown()),
  },
  { additionalProperties: false },
);

export interface System {
  readonly app: App<SqlTx>;
  readonly gateway: Gateway<SqlTx>;
  /**
   * Events the consumer applied so far, their critical times (occurredAt → committed), ms, and
   * when the first was applied.
   */
  readonly handled: { count: number; latenciesMs: number[]; first?: { at: number; count: number } };
  until(count: number): Promise<void>;
  close(): Promise<void>;
}

/** Starts the system on `engine`; `preload` appends to the log before the consumer starts. */
export async function system(engine: Engine, preload?: (app: App<SqlTx>) => Promise<void>): Promise<System> {
  const { tuning } = engine;
  const partitions = engine.name.startsWith('kafka') ? KAFKA_PG.partitionsPerTopic : 3;
  const separateRelay = engine.relayOutbox !== undefined;
  const topics = [AnalyticsEvent.topic, UserActivity.topic, LateAnalyticsEvent.topic].map((name) => ({ name, partitions }));
  const app = createApp<SqlTx>({
    name: 'analytics-bench',
    broker: engine.broker,
    stores: engine.stores,
    logger: silentLogger,
    topics,
    groups: { [GROUP]: tuning.group ?? {} },
    relay: separateRelay ? false : tuning.relay,
    ...(engine.relayHost ? { relayHost: engine.relayHost } : {}),
  });
  const topology = createTopology<SqlTx>({ name: GROUP });
  topology
    .from(AnalyticsEvent)
    .groupByKey()
    .windowedBy(TimeWindows.ofSizeAndGrace(60_000, 5_000))
    .count('user-minute', { late: { to: LateAnalyticsEvent } })
    .to(UserActivity, (r) => ({ userId: r.key, windowStart: r.value.start, events: r.value.value }));
  topology.install(app);

  const handled: System['handled'] = { count: 0, latenciesMs: [] };
  let waiting: { count: number; resolve: () => void } | undefined;
  app.instrumentation.on((fact) => {
    if (fact.kind !== 'handled' || fact.group !== GROUP || fact.outcome !== 'applied') return;
    if (handled.count === 0) {
      const first = (handled.first = { at: performance.now(), count: 0 });
      // the facts of one committed batch come in one synchronous run: count them all
      queueMicrotask(() => (first.count = handled.count));
    }
    handled.count++;
    handled.latenciesMs.push(fact.latencyMs);
    if (waiting && handled.count >= waiting.count) waiting.resolve();
  });

  const gateway = createGateway<SqlTx>({ app, bodyLimitBytes: 1024 * 1024 });
  const append = async (publish: Publish, body: Static<typeof IngestBody>) => {
    const eventId = body.eventId ?? crypto.randomUUID();
    await publish(AnalyticsEvent, { eventId, userId: body.userId, type: body.type, properties: body.properties }, { occurredAt: new Date(body.timestamp) });
    return eventId;
  };
  gateway.ingest({ url: '/v1/events', body: IngestBody, handle: async ({ body, publish }) => ({ eventId: await append(publish, body) }) });
  // concurrent appends share one durable write on both engines (the log's group commit, the Kafka producer's coalescing)
  // `::` is a literal colon to fastify (`:batch` alone would be a path parameter)
  gateway.ingest({
    url: '/v1/events::batch',
    body: Type.Object({ events: Type.Array(IngestBody, { minItems: 1, maxItems: 1000 }) }),
    handle: async ({ body, publish }) => ({ accepted: (await Promise.all(body.events.map((event) => append(publish, event)))).length }),
  });
  await gateway.listen({ port: 0 });
  if (preload) {
    if (canEnsureTopics(engine.broker)) await engine.broker.ensureTopics(topics);
    await preload(app);
  }
  await app.start();
  await app.ready();
  gateway.markReady();
  const relay = separateRelay ? createRelay({ outbox: engine.relayOutbox!, broker: engine.broker, stores: engine.stores }, tuning.relay) : undefined;
  await relay?.start();
  return {
    app,
    gateway,
    handled,
    until: (count) => (handled.count >= count ? Promise.resolve() : new Promise<void>((resolve) => (waiting = { count, resolve }))),
    async close() {
      await gateway.close();
      await relay?.close();
      await app.close();
      await engine.cleanup();
    },
  };
}

export const url = (gateway: Gateway<SqlTx>) => {
  const address = gateway.fastify.server.address() as { port: number };
  return `http://127.0.0.1:${address.port}/v1/events`;
};
