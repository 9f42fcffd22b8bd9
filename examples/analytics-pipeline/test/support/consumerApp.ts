import { createApp, hasWindowStore, type App, type AppOptions, type SqlTx } from '@herald/core';
import type { AnalyticsStore } from '@herald/analytics';
import { engineFromEnv, type Engine } from '@herald/engine';
import { pinoLogger } from '@herald/logging';
import { loadConfig } from '../../src/config.js';
import { EVENTS, GROUPS, TOPICS } from '../../src/events.js';
import { recordClosingGrace } from '../../src/grace.js';
import { createQueries, type Queries } from '../../src/queries.js';
import { registerConsumer } from '../../src/services/consumer.js';

/** The example's consumer (stream and metrics groups), started alone on the embedded engine in `dataDir`. */
export interface ConsumerApp {
  readonly engine: Engine;
  readonly app: App<SqlTx>;
  readonly queries: Queries;
}

/**
 * Starts the consumer on `store` with the given handler defaults, as its service does (recording
 * its grace for the analytics service first) but without the relay (the test publishes straight to the log) and with idle punctuation out of the way.
 */
export async function startConsumerApp(options: {
  readonly name: string;
  readonly dataDir: string;
  readonly store: AnalyticsStore;
  readonly graceMs: number;
  readonly handlerDefaults: NonNullable<AppOptions<SqlTx>['handlerDefaults']>;
}): Promise<ConsumerApp> {
  const logger = pinoLogger({ level: 'silent' });
  const engine = await engineFromEnv({ HERALD_DATA_DIR: options.dataDir, HERALD_KAFKA_BROKERS: '', DATABASE_URL: '' }, { logger });
  const app = createApp<SqlTx>({ name: options.name, broker: engine.broker, stores: engine.stores, events: EVENTS, topics: TOPICS, logger, handlerDefaults: options.handlerDefaults });
  registerConsumer(app, { store: options.store, graceMs: options.graceMs, idleTimeoutMs: 3_600_000 });
  if (!hasWindowStore(engine.stores)) throw new Error('the embedded engine keeps window state');
  await recordClosingGrace(engine.stores, engine.stores.windows, options.graceMs);
  const queries = createQueries({ store: options.store, windows: engine.stores.windows, graceMs: options.graceMs, retentionMs: loadConfig({}, []).analyticsRetentionMs });
  await app.start({ groups: [GROUPS.stream, GROUPS.metrics], relay: false });
  await app.ready();
  return { engine, app, queries };
}
