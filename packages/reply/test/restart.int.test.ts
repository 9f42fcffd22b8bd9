import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp, createInstrumentation, defineEvent, encodeEnvelope, silentLogger, systemClock, uuidv7, type App, type Envelope, type InstrumentationEvent, type SqlTx } from '@herald/core';
import { sqliteEngine, sqliteLog } from '@herald/sqlite';
import { Type } from '@sinclair/typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventWaiter, createRequester, REPLY_HEADERS, replier, type Requester } from '../src/index.js';
import { GetProfile, ProfileRequested, ProfileReturned, until } from './scenario.js';

// A requester and an event waiter with a fixed instance id, restarted on one embedded data
// directory (a real SQLite file): the restart resumes after what the previous life read, not at
// the group's first start. Every reply and event here has one key, so they share a partition and
// arrive in order: whatever an old life left unread comes before what the test sends last.

const OrderDecided = defineEvent({ type: 'OrderDecided', topic: 'orders.status', key: () => 'orders', schema: Type.Object({ requestId: Type.String(), status: Type.String() }) });

const dir = mkdtempSync(join(tmpdir(), 'herald-reply-restart-'));
const logOptions = { heartbeatMs: 100, sessionTimeoutMs: 1_000 };
const open = (name: string) =>
  createApp<SqlTx>({ ...sqliteEngine({ dataDir: dir, log: logOptions }), name, logger: silentLogger, relay: { idleMs: 5 }, groups: { users: { commitIntervalMs: 20 } } });
let users: App<SqlTx>;
const running: App<SqlTx>[] = [];

beforeAll(async () => {
  users = open('users');
  users.on(ProfileRequested, { group: 'users' }, replier(GetProfile, async (request) => ({ ...request.data, name: `User ${request.data.userId}` })));
  await users.start();
  await users.ready();
});
afterAll(async () => {
  await Promise.all(running.map((app) => app.close()));
  await users?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('a restart with a fixed instance id on the embedded log', () => {
  const instanceId = 'notifier-fixed';

  async function startRequester(): Promise<{ app: App<SqlTx>; requester: Requester; facts: InstrumentationEvent[] }> {
    const app = open('notifier');
    running.push(app);
    const requester = createRequester({ app, requests: [GetProfile], instanceId });
    app.use(requester);
    const facts: InstrumentationEvent[] = [];
    app.instrumentation.on((fact) => facts.push(fact));
    await app.start();
    await app.ready();
    return { app, requester, facts };
  }

  /** Replies addressed to this instance for requests it never made (another life's), as a replier's relay writes them. */
  const strayReplies = (count: number) =>
    users.broker.publish(
      Array.from({ length: count }, () => {
        const requestId = uuidv7();
        const envelope: Envelope = {
          id: uuidv7(),
          type: ProfileReturned.type,
          version: 1,
          topic: ProfileReturned.topic,
          key: 'u',
          correlationId: requestId,
          causationId: requestId,
          occurredAt: new Date().toISOString(),
          headers: { [REPLY_HEADERS.replyTo]: instanceId, [REPLY_HEADERS.requestId]: requestId },
          data: { userId: 'u', name: 'Stray', from: 'nobody' },
        };
        return { topic: ProfileReturned.topic, key: 'u', value: encodeEnvelope(envelope), headers: envelope.headers };
      }),
    );
  const dropped = (facts: InstrumentationEvent[]) => facts.filter((f) => f.kind === 'reply-dropped').map((f) => (f as { reason: string }).reason);

  it('a requester resumes after the replies it saw: only those that came while it was down are read again', async () => {
    const first = await startRequester();
    expect((await first.requester.request(GetProfile, { userId: 'u', from: 'first' }, { timeoutMs: 10_000 })).data.from).toBe('first');
    await strayReplies(50);
    await until(() => dropped(first.facts).length === 50, 10_000, 'the first life to read the stray replies');
    await first.app.close();
    await strayReplies(3); // while it is down

    const second = await startRequester();
    const reply = await second.requester.request(GetProfile, { userId: 'u', from: 'second' }, { timeoutMs: 10_000 });
    expect(reply.data).toEqual({ userId: 'u', name: 'User u', from: 'second' });
    // the reply came after everything older on its partition: the backlog read, if any, is over.
    // Before the group committed, the second life re-read all 54 older replies of the first.
    expect(dropped(second.facts)).toEqual(['unknown', 'unknown', 'unknown']);
  });

  it('an event waiter resumes after the events it saw: an old event does not end a new wait', async () => {
    const broker = sqliteLog({ ...logOptions, path: join(dir, 'log.db') });
    try {
      const lifeOf = () => createEventWaiter({ app: { broker, clock: systemClock, logger: silentLogger, instrumentation: createInstrumentation() }, events: [OrderDecided], instanceId: 'gateway-fixed' });
      const lifetime = new AbortController();
      const closing = { deadlineMs: Date.now() + 5_000 };
      const first = lifeOf();
      await first.start(lifetime.signal);
      await first.ready!();
      const seen = first.expect('order-1', { timeoutMs: 10_000 });
      await users.publish(OrderDecided, { requestId: 'order-1', status: 'PENDING' }, { correlationId: 'order-1' });
      expect((await seen.result)?.data).toEqual({ requestId: 'order-1', status: 'PENDING' });
      await first.close(closing);

      const second = lifeOf();
      // registered before the group reads anything: an event re-read from the first life would end it
      const starting = second.start(lifetime.signal);
      const wait = second.expect('order-1', { timeoutMs: 10_000 });
      await starting;
      await second.ready!();
      await users.publish(OrderDecided, { requestId: 'order-1', status: 'PAID' }, { correlationId: 'order-1' });
      expect((await wait.result)?.data).toEqual({ requestId: 'order-1', status: 'PAID' });
      await second.close(closing);
    } finally {
      await broker.close();
    }
  });
});
