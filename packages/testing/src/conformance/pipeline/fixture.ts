import { Type, type Static } from '@sinclair/typebox';
import {
  createApp,
  defineEvent,
  silentLogger,
  uuidv7,
  type App,
  type Delivery,
  type EventDefinition,
  type InstrumentationEvent,
  type Pipeline,
  type Subscription,
} from '@herald/core';
import { uniqueName, waitFor, within } from '../suiteTests.js';
import type { PipelineConformanceOptions, PipelineUnderTest } from './harness.js';
import { keepOpenBroker, keepOpenStores } from './keepOpen.js';

const StepSchema = Type.Object({ orderId: Type.String(), seq: Type.Integer({ minimum: 0 }), amount: Type.Optional(Type.Integer({ minimum: 1 })) });
export type StepData = Static<typeof StepSchema>;

/** What one pipeline test works with; every app, probe and the harness are closed after it. */
export interface PipelineFixture<Tx> {
  readonly harness: PipelineUnderTest<Tx>;
  readonly topic: string;
  readonly partitions: number;
  /** The test's event type, `OrderStep` on the test's topic, keyed by `orderId`. */
  readonly Step: EventDefinition<typeof StepSchema>;
  /**
   * A new app on the harness's broker and stores with fast policies; register handlers, then start
   * it. `pipeline` edits every handler's pipeline, as a user's app would.
   */
  app(options?: { dropCommits?: boolean; pipeline?: (pipeline: Pipeline<Tx>) => Pipeline<Tx> }): App<Tx>;
  /** Every instrumentation event an app emits, from now on. */
  record(app: App<Tx>): InstrumentationEvent[];
  /** A raw subscription of `group` on the test topic, recording what it is delivered. */
  probe(group: string): Promise<Delivery[]>;
  /** A wire envelope for the test's topic, as another producer would write it (version 1 unless given). */
  envelope(type: string, key: string, data: unknown, version?: number): string;
  effects(): Promise<string[]>;
  group(prefix: string): string;
  waitFor(what: string, condition: () => boolean | Promise<boolean>): Promise<void>;
  within<T>(what: string, promise: Promise<T>): Promise<T>;
}

/** Runs `body` against a fresh broker + stores pair and tears everything down afterwards. */
export async function withPipeline<Tx>(options: PipelineConformanceOptions<Tx>, body: (f: PipelineFixture<Tx>) => Promise<void>): Promise<void> {
  const partitions = options.partitions ?? 4;
  const waitMs = options.waitMs ?? 15_000;
  const harness = await options.create();
  const topic = uniqueName('pipeline');
  const apps: App<Tx>[] = [];
  const probes: Subscription[] = [];
  const Step = defineEvent({ type: 'OrderStep', topic, key: (d) => d.orderId, schema: StepSchema });

  const fixture: PipelineFixture<Tx> = {
    harness,
    topic,
    partitions,
    Step,
    app(appOptions = {}) {
      const app = createApp<Tx>({
        name: 'conformance',
        broker: keepOpenBroker(harness.broker, appOptions),
        stores: keepOpenStores(harness.stores),
        logger: silentLogger,
        events: [Step],
        topics: [{ name: topic, partitions, replicationFactor: 1 }],
        handlerDefaults: { retry: { maxAttempts: 2, initialDelayMs: 1, maxDelayMs: 5 }, timeoutMs: waitMs },
        relay: { idleMs: 5 },
        ...(harness.relayHost ? { relayHost: harness.relayHost } : {}),
        ...(appOptions.pipeline ? { pipeline: appOptions.pipeline } : {}),
      });
      apps.push(app);
      return app;
    },
    record(app) {
      const events: InstrumentationEvent[] = [];
      app.instrumentation.on((event) => events.push(event));
      return events;
    },
    async probe(group) {
      const deliveries: Delivery[] = [];
      const subscription = await harness.broker.subscribe(
        { group, topics: [topic], start: 'earliest' },
        { deliver: async (batch) => void deliveries.push(...batch.deliveries), revoked: async () => {} },
      );
      probes.push(subscription);
      return deliveries;
    },
    envelope(type, key, data, version = 1) {
      const id = uuidv7();
      return JSON.stringify({ id, type, version, topic, key, correlationId: id, causationId: null, occurredAt: new Date().toISOString(), headers: {}, data });
    },
    effects: async () => [...(await harness.readEffects())],
    group: (prefix) => uniqueName(prefix),
    waitFor: (what, condition) => waitFor(what, condition, waitMs),
    within: (what, promise) => within(what, promise, waitMs),
  };

  try {
    await body(fixture);
  } finally {
    await Promise.allSettled(apps.map((app) => within('closing an app', app.close({ deadlineMs: 2000 }), waitMs)));
    await Promise.allSettled(probes.map((probe) => within('closing a probe', probe.close(), waitMs)));
    if (harness.cleanup) await harness.cleanup();
    else {
      await harness.broker.close();
      await harness.stores.close();
    }
  }
}

/** The effect id the suite's handlers write for one step: `orderId:seq`. */
export const effectId = (data: StepData): string => `${data.orderId}:${data.seq}`;

/** How often each id occurs. */
export function counts(ids: readonly string[]): Map<string, number> {
  const found = new Map<string, number>();
  for (const id of ids) found.set(id, (found.get(id) ?? 0) + 1);
  return found;
}
