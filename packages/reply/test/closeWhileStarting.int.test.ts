import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canInspect, createApp, defineEvent, silentLogger, type App, type SqlTx } from '@herald/core';
import { sqliteEngine } from '@herald/sqlite';
import { Type } from '@sinclair/typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventWaiter, createRequester } from '../src/index.js';
import { GetProfile } from './scenario.js';

// A requester or an event waiter closed while its start is still subscribing (a caller that gives
// up, a start that hangs on the broker), on the embedded log (a real SQLite file): the membership
// the start makes once subscribe returns is left again, not kept alive by its heartbeats — a
// member of a one-member group that nobody reads for, holding its partitions from the next life.

const OrderDecided = defineEvent({ type: 'OrderDecided', topic: 'orders.status', key: () => 'orders', schema: Type.Object({ status: Type.String() }) });

const dir = mkdtempSync(join(tmpdir(), 'herald-reply-close-'));
let app: App<SqlTx>;

beforeAll(async () => {
  app = createApp<SqlTx>({ ...sqliteEngine({ dataDir: dir, log: { heartbeatMs: 100, sessionTimeoutMs: 60_000 } }), name: 'gateway', logger: silentLogger });
  await app.start();
});
afterAll(async () => {
  await app?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function members(group: string): Promise<number> {
  if (!canInspect(app.broker)) throw new Error('the embedded log can be inspected');
  return (await app.broker.describeGroup(group)).members;
}

describe('a close while the start subscribes', () => {
  it('a requester leaves its reply group, and stays closed', async () => {
    const requester = createRequester({ app, requests: [GetProfile], instanceId: 'closed-while-starting' });
    const starting = requester.start(new AbortController().signal);
    const closing = requester.close({ deadlineMs: 5_000 });
    await Promise.all([starting, closing]);
    expect(await members('herald.reply.closed-while-starting')).toBe(0);
    await expect(requester.request(GetProfile, { userId: 'u', from: 'after close' })).rejects.toMatchObject({ code: 'requester-closed', message: 'requester closed-while-starting is closed' });
  });

  it('an event waiter leaves its wait group', async () => {
    const waiter = createEventWaiter({ app, events: [OrderDecided], instanceId: 'closed-while-starting' });
    const starting = waiter.start(new AbortController().signal);
    const closing = waiter.close({ deadlineMs: 5_000 });
    await Promise.all([starting, closing]);
    expect(await members('herald.wait.closed-while-starting')).toBe(0);
  });
});
