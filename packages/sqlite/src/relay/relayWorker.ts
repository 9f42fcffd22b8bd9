// The relay thread: the outbox relay of an embedded engine, on its own connections to the same
// files, so its claims, appends and marks run on a second core. Started by relayThread.ts.
import { parentPort, workerData } from 'node:worker_threads';
import { createInstrumentation, createRelay, type Broker, type Logger, type Relay } from '@herald/core';
import { sqliteLog } from '../log/sqliteLog.js';
import { sqliteStores } from '../stores/sqliteStores.js';
import type { FromRelayThread, RelayThreadData, ToRelayThread } from './messages.js';

const data = workerData as RelayThreadData;
const port = parentPort!;
const post = (message: FromRelayThread) => port.postMessage(message);

const logger: Logger = {
  debug: (message, fields) => post({ kind: 'log', level: 'debug', message, fields: plain(fields) }),
  info: (message, fields) => post({ kind: 'log', level: 'info', message, fields: plain(fields) }),
  warn: (message, fields) => post({ kind: 'log', level: 'warn', message, fields: plain(fields) }),
  error: (message, fields) => post({ kind: 'log', level: 'error', message, fields: plain(fields) }),
  child: () => logger,
};

let relay: Relay | undefined;
try {
  // no background work of its own: the app's handles on the same files checkpoint and sweep
  const common = { durability: data.durability, busyTimeoutMs: data.busyTimeoutMs, maintenance: false };
  const stores = sqliteStores({ path: data.storePath, ...common });
  const log = sqliteLog({ path: data.logPath, ...common });
  // tell the app's thread after every publish, so its consumers look at once
  const broker: Broker = {
    async publish(records) {
      await log.publish(records);
      post({ kind: 'published' });
    },
    subscribe: (options, sink) => log.subscribe(options, sink),
    close: () => log.close(),
  };
  const instrumentation = createInstrumentation();
  // an Error crosses threads without its own properties (its code): send what the app's side needs
  instrumentation.on((fact) => post({ kind: 'fact', fact: fact.kind === 'relay-failed' ? { ...fact, error: plainError(fact.error) as unknown as Error } : fact }));
  // the app's thread wakes it when its transactions append: the same signal an in-process relay gets
  const wakers = new Set<() => void>();
  const signal = { onAppended: (listener: () => void) => (wakers.add(listener), () => void wakers.delete(listener)) };
  relay = createRelay({ outbox: stores.outbox, broker, stores: signal, logger, instrumentation }, data.relay);
  const running = relay;
  port.on('message', (message: ToRelayThread) => {
    if (message.kind === 'wake') wakers.forEach((wake) => wake());
    else if (message.kind === 'drain') {
      running.drain().then(
        (count) => post({ kind: 'drained', id: message.id, count }),
        (error: unknown) => post({ kind: 'drained', id: message.id, error: error as Error }),
      );
    } else if (message.kind === 'close') {
      void (async () => {
        await running.close({ deadlineMs: message.deadlineMs }).catch((error: unknown) => logger.error('relay thread: close failed', { error }));
        await log.close().catch(() => {});
        await stores.close().catch(() => {});
        post({ kind: 'closed' });
        port.close();
      })();
    }
  });
  await running.start();
  post({ kind: 'started' });
} catch (error) {
  post({ kind: 'failed', error: error as Error });
  port.close();
}

function plainError(error: Error): Record<string, unknown> {
  return { name: error.name, message: error.message, code: (error as { code?: unknown }).code, retriable: (error as { retriable?: unknown }).retriable, stack: error.stack };
}

/** Fields that survive the trip between threads: errors become plain objects. */
function plain(fields: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!fields) return undefined;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) {
    out[key] = value instanceof Error ? plainError(value) : value;
  }
  return out;
}
