import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import { afterEach, describe, expect, it } from 'vitest';
import { CoreErrors, createApp, decodeEnvelope, defineEvent, silentLogger, type App, type SqlTx } from '@herald/core';
import { sqliteEngine } from '@herald/sqlite';
import { createGateway, type Gateway } from '../src/index.js';

// Ingest routes on the embedded engine (a real SQLite log): the answer comes once the append is
// durable, the events go straight to the log (no outbox row), and bad requests append nothing.

const PageViewed = defineEvent({
  type: 'PageViewed',
  topic: 'page-views',
  key: (d) => d.userId,
  schema: Type.Object({ userId: Type.String(), path: Type.String() }),
});
const View = Type.Object({ userId: Type.String({ minLength: 1 }), path: Type.String(), at: Type.Optional(Type.String({ format: 'date-time' })) }, { additionalProperties: false });

let dataDir: string | undefined;
let app: App<SqlTx> | undefined;
let gateway: Gateway<SqlTx> | undefined;
afterEach(async () => {
  await gateway?.close();
  await app?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  dataDir = app = gateway = undefined;
});

async function start() {
  dataDir = mkdtempSync(join(tmpdir(), 'herald-ingest-'));
  const engine = sqliteEngine({ dataDir });
  const topics = [{ name: PageViewed.topic, partitions: 1 }];
  await engine.broker.ensureTopics(topics); // one partition: the test reads it in order
  app = createApp<SqlTx>({ name: 'ingest', broker: engine.broker, stores: engine.stores, logger: silentLogger, topics });
  gateway = createGateway<SqlTx>({ app });
  gateway.ingest({
    url: '/views',
    body: View,
    handle: async ({ body, publish }) => ({ eventId: (await publish(PageViewed, { userId: body.userId, path: body.path }, body.at ? { occurredAt: new Date(body.at) } : {})).id }),
  });
  gateway.ingest({
    url: '/views:batch',
    body: Type.Object({ views: Type.Array(View, { maxItems: 100 }) }),
    handle: async ({ body, publish }) => ({ accepted: (await publish.many(PageViewed, body.views.map((v) => ({ userId: v.userId, path: v.path })))).length }),
  });
  return { engine, gateway };
}

const post = (g: Gateway<SqlTx>, url: string, body: unknown, headers: Record<string, string> = {}) =>
  g.fastify.inject({ method: 'POST', url, headers: { 'content-type': 'application/json', ...headers }, payload: typeof body === 'string' ? body : JSON.stringify(body) });

async function logged(engine: ReturnType<typeof sqliteEngine>) {
  const records = await engine.broker.read({ topic: PageViewed.topic, partition: 0, from: 0, limit: 100 });
  return records.map((r) => decodeEnvelope(r.value, r.headers));
}

describe('ingest routes', () => {
  it('appends straight to the log and answers 202 once durable, with the request correlation id on the events', async () => {
    const { engine, gateway: g } = await start();
    const res = await post(g, '/views', { userId: 'u-1', path: '/home', at: '2026-12-05T10:00:00.250+01:00' }, { 'x-correlation-id': 'corr-1' });
    expect(res.statusCode).toBe(202);
    const { eventId } = res.json() as { eventId: string };
    const batch = await post(g, '/views:batch', { views: [{ userId: 'u-1', path: '/a' }, { userId: 'u-1', path: '/b' }] });
    expect(batch.statusCode).toBe(202);
    expect(batch.json()).toEqual({ accepted: 2 });

    const events = await logged(engine);
    expect(events.map((e) => (e.data as { path: string }).path)).toEqual(['/home', '/a', '/b']);
    expect(events[0]).toMatchObject({ id: eventId, type: 'PageViewed', correlationId: 'corr-1', occurredAt: '2026-12-05T09:00:00.250Z' });
    // nothing went through the outbox
    expect(await engine.stores.outbox.backlog()).toEqual([]);
  });

  it('refuses an invalid or non-JSON body with problem+json and appends nothing', async () => {
    const { engine, gateway: g } = await start();
    const invalid = await post(g, '/views:batch', { views: [{ userId: 'u-1', path: '/a' }, { userId: '', path: '/b' }] });
    expect(invalid.statusCode).toBe(422);
    expect(invalid.headers['content-type']).toBe('application/problem+json');
    expect(JSON.stringify(invalid.json())).toContain('/views/1/userId');
    const unzoned = await post(g, '/views', { userId: 'u-1', path: '/a', at: '2026-12-05T10:00:00' });
    expect(unzoned.statusCode).toBe(422);
    expect(JSON.stringify(unzoned.json())).toContain('/at');
    const text = await g.fastify.inject({ method: 'POST', url: '/views', headers: { 'content-type': 'text/plain' }, payload: 'u-1 /home' });
    expect(text.statusCode).toBe(415);
    expect((await post(g, '/views', '{"userId":')).statusCode).toBe(400);
    expect(await logged(engine)).toEqual([]);
  });

  it('refuses a body in another charset (415) or not UTF-8 (400), and appends nothing', async () => {
    const { engine, gateway: g } = await start();
    const latin1 = Buffer.from('{"userId":"M\xfcller","path":"/home"}', 'latin1');
    const declared = await g.fastify.inject({ method: 'POST', url: '/views', headers: { 'content-type': 'application/json; charset=iso-8859-1' }, payload: latin1 });
    expect(declared.statusCode).toBe(415);
    expect(declared.json()).toMatchObject({ code: 'unsupported-media-type' });
    const undeclared = await g.fastify.inject({ method: 'POST', url: '/views', headers: { 'content-type': 'application/json' }, payload: latin1 });
    expect(undeclared.statusCode).toBe(400);
    expect(undeclared.json()).toMatchObject({ code: 'malformed-json' });
    expect(await logged(engine)).toEqual([]);
    const utf8 = await g.fastify.inject({ method: 'POST', url: '/views', headers: { 'content-type': 'application/json; charset=utf-8' }, payload: Buffer.from('{"userId":"M\u00fcller","path":"/home"}') });
    expect(utf8.statusCode).toBe(202);
    expect((await logged(engine)).map((e) => e.data)).toEqual([{ userId: 'M\u00fcller', path: '/home' }]);
  });

  it('refuses to register on an app that cannot publish directly', () => {
    const engine = sqliteEngine({ dataDir: (dataDir = mkdtempSync(join(tmpdir(), 'herald-ingest-'))) });
    const full = createApp<SqlTx>({ broker: engine.broker, stores: engine.stores, logger: silentLogger });
    app = full;
    const withoutDirect = createGateway<SqlTx>({ app: { stores: full.stores, transaction: (work) => full.transaction(work) } });
    expect(() => withoutDirect.ingest({ url: '/x', handle: async () => null })).toThrow(expect.objectContaining({ code: CoreErrors.invalidOptions.code }));
  });
});
