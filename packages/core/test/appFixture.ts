import { Type } from '@sinclair/typebox';
import { createApp, defineEvent, silentLogger, type App, type AppOptions, type Broker } from '@herald/core';
import { memoryBroker, memoryStores, type MemoryStores, type MemoryTx } from '@herald/testing';

/** The event the app tests handle: `key` is its partition key; a test's handler may throw when `fail` is set. */
export const Step = defineEvent({
  type: 'Step',
  topic: 'steps',
  key: (d) => d.key,
  schema: Type.Object({ key: Type.String(), seq: Type.Integer(), fail: Type.Optional(Type.Integer()) }, { additionalProperties: false }),
});
export const Echo = defineEvent({ type: 'Echo', topic: 'echoes', key: (d) => d.key, schema: Type.Object({ key: Type.String(), seq: Type.Integer() }) });

/** The apps a test made; each test file closes them after each test with `afterEach(closeApps)`. */
export const apps: App<MemoryTx>[] = [];

export async function closeApps(): Promise<void> {
  await Promise.all(apps.splice(0).map((a) => a.close({ deadlineMs: 1000 })));
}

/** An app on its own in-memory engine (two partitions): quick retries, group `worker` committing every 10 ms. */
export function newApp(options: { deadLetter?: 'skip' | 'park-key'; concurrency?: number } = {}) {
  const broker = memoryBroker({ partitions: 2, maxBatch: 50 });
  const stores = memoryStores();
  const app = createApp<MemoryTx>({
    broker,
    stores,
    logger: silentLogger,
    events: [Step, Echo],
    handlerDefaults: { retry: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 5 }, deadLetter: options.deadLetter ?? 'skip' },
    groups: { worker: { concurrency: options.concurrency ?? 8, commitIntervalMs: 10 } },
    relay: { idleMs: 2 },
  });
  apps.push(app);
  return { app, broker, stores };
}

/**
 * A member of a group whose members share one engine: `broker` is its own connection, `stores` the
 * shared ones (left open when it closes). It knows Step and runs no relay unless `options` say so;
 * closed after the test.
 */
export function memberApp({ stores, ...options }: Omit<Partial<AppOptions<MemoryTx>>, 'stores'> & { readonly broker: Broker; readonly stores: MemoryStores }): App<MemoryTx> {
  const app = createApp<MemoryTx>({ logger: silentLogger, events: [Step], relay: false, ...options, stores: { ...stores, close: async () => {} } });
  apps.push(app);
  return app;
}
