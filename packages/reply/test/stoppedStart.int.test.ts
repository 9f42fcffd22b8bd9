import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canInspect, createApp, defineEvent, silentLogger, type Broker, type Component, type SqlTx, type Subscription } from '@herald/core';
import { sqliteEngine } from '@herald/sqlite';
import { Type } from '@sinclair/typebox';
import { afterAll, describe, expect, it } from 'vitest';
import { createEventWaiter, createRequester } from '../src/index.js';
import { GetProfile, until } from './scenario.js';

// An app closed while its requester's or event waiter's subscribe hangs (Kafka unreachable), on the
// embedded log (a real SQLite file) behind a broker whose subscribe waits for a gate: the close
// does not wait for the subscribe (its deadline is far past the test's timeout), and the membership
// the subscribe makes once it returns is left again.

const OrderDecided = defineEvent({ type: 'OrderDecided', topic: 'orders.status', key: () => 'orders', schema: Type.Object({ status: Type.String() }) });

const dir = mkdtempSync(join(tmpdir(), 'herald-reply-stopped-'));

interface HeldBroker {
  /** The broker the app gets: its subscribe waits for `release`, its close leaves the log open (the test reads it after the app closed). */
  readonly broker: Broker;
  readonly subscribing: () => boolean;
  release(): void;
  /** Whether the subscription the held subscribe made was closed again. */
  readonly left: () => boolean;
}

function heldBroker(log: Broker): HeldBroker {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let subscribing = false;
  let left = false;
  const broker = new Proxy(log, {
    get(target, prop) {
      if (prop === 'close') return async () => undefined;
      if (prop === 'subscribe') {
        return async (...args: Parameters<Broker['subscribe']>): Promise<Subscription> => {
          subscribing = true;
          await released;
          const subscription = await target.subscribe(...args);
          return {
            commit: (offsets) => subscription.commit(offsets),
            close: async () => {
              await subscription.close();
              left = true;
            },
          };
        };
      }
      const value = Reflect.get(target, prop, target) as unknown;
      return value instanceof Function ? value.bind(target) : value;
    },
  });
  return { broker, subscribing: () => subscribing, release, left: () => left };
}

async function members(log: Broker, group: string): Promise<number> {
  if (!canInspect(log)) throw new Error('the embedded log can be inspected');
  return (await log.describeGroup(group)).members;
}

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Starts an app with `component` on a held broker, closes it while the subscribe hangs, then lets the subscribe return. */
async function closeWhileSubscribing(make: (app: Parameters<typeof createRequester>[0]['app']) => Component, group: string): Promise<unknown> {
  const engine = sqliteEngine({ dataDir: join(dir, group), log: { heartbeatMs: 100, sessionTimeoutMs: 60_000 } });
  const held = heldBroker(engine.broker);
  const app = createApp<SqlTx>({ broker: held.broker, stores: engine.stores, name: 'gateway', logger: silentLogger });
  app.use(make(app));
  const started = app.start().catch((error: unknown) => error);
  await until(held.subscribing, 5_000, 'the subscribe to begin');
  // far longer than the test may run: before the fix, the close waited for the subscribe until then
  await app.close({ deadlineMs: 600_000 });
  const startError = await started;
  held.release();
  await until(held.left, 5_000, 'the subscription made after the close to be closed');
  try {
    expect(await members(engine.broker, group)).toBe(0);
  } finally {
    await engine.close();
  }
  return startError;
}

describe('an app closed while a subscribe hangs', () => {
  it('a requester stops waiting for it, and leaves its reply group once it returns', async () => {
    const error = await closeWhileSubscribing((app) => createRequester({ app, requests: [GetProfile], instanceId: 'stopped-start' }), 'herald.reply.stopped-start');
    expect(error).toMatchObject({ code: 'closed' });
  });

  it('an event waiter stops waiting for it, and leaves its wait group once it returns', async () => {
    const error = await closeWhileSubscribing((app) => createEventWaiter({ app, events: [OrderDecided], instanceId: 'stopped-start' }), 'herald.wait.stopped-start');
    expect(error).toMatchObject({ code: 'closed' });
  });
});
