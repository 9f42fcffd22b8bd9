import { createApp, decodeEnvelope, defineEvent, encodeEnvelope, silentLogger, uuidv7, type App, type Broker, type Envelope, type HeraldError, type InstrumentationEvent } from '@herald/core';
import { createGateway } from '@herald/http';
import { memoryBroker, memoryStores, type MemoryTx } from '@herald/testing';
import { Type } from '@sinclair/typebox';
import { afterEach, describe, expect, it } from 'vitest';
import { createRequester, defineRequest, REPLY_HEADERS, type Requester, type RequestDefinition } from '../src/index.js';
import { GetProfile, ProfileRequested, ProfileReturned, until } from './scenario.js';

// The requester's own contract on the in-memory engine, with no replier: replies are written to
// the reply topic by hand, so duplicates, strangers and bad data can be sent on purpose.

interface Setup {
  readonly app: App<MemoryTx>;
  readonly requester: Requester;
  readonly facts: InstrumentationEvent[];
  /** Requests the app published (what a replier would read). */
  requests(): Promise<Envelope[]>;
  /** Writes a reply record to the reply topic, as a replier's relay would. */
  reply(to: { replyTo: string; requestId: string }, data: unknown, type?: string, version?: number): Promise<void>;
  /** With `holdReady`: reports the reply group's assignment, which makes the requester ready. */
  releaseReady(): void;
}

let open: App<MemoryTx>[] = [];
afterEach(async () => {
  await Promise.all(open.map((app) => app.close()));
  open = [];
});

async function setup(start = true, { holdReady = false, requests = [GetProfile] as RequestDefinition[] } = {}): Promise<Setup> {
  const broker = memoryBroker();
  const stores = memoryStores();
  // holdReady: the reply group's first assignment (the requester's readiness) waits for releaseReady()
  const held: (() => void)[] = [];
  let released = false;
  const appBroker: Broker = holdReady
    ? {
        ...broker,
        subscribe: (options, sink) =>
          broker.subscribe(options, options.group.startsWith('herald.reply.') ? { ...sink, assigned: (partitions) => (released ? sink.assigned?.(partitions) : held.push(() => sink.assigned?.(partitions))) } : sink),
      }
    : broker;
  const app = createApp<MemoryTx>({ broker: appBroker, stores, logger: silentLogger, relay: { idleMs: 5 } });
  open.push(app);
  const requester = createRequester({ app, requests, instanceId: 'notifier-1' });
  app.use(requester);
  const facts: InstrumentationEvent[] = [];
  app.instrumentation.on((fact) => facts.push(fact));
  // what a replier would read: the requests on their topic
  const sent: Envelope[] = [];
  await broker.subscribe(
    { group: 'spy', topics: [ProfileRequested.topic] },
    { deliver: async (batch) => void sent.push(...batch.deliveries.map((d) => decodeEnvelope(d.value, d.headers))), revoked: async () => undefined },
  );
  if (start) await app.start();
  return {
    app,
    requester,
    facts,
    requests: async () => sent,
    releaseReady() {
      released = true;
      for (const assigned of held.splice(0)) assigned();
    },
    async reply(to, data, type = ProfileReturned.type, version = 1) {
      const envelope: Envelope = {
        id: uuidv7(),
        type,
        version,
        topic: ProfileReturned.topic,
        key: 'k',
        correlationId: to.requestId,
        causationId: to.requestId,
        occurredAt: new Date().toISOString(),
        headers: { [REPLY_HEADERS.replyTo]: to.replyTo, [REPLY_HEADERS.requestId]: to.requestId },
        data,
      };
      await broker.publish([{ topic: ProfileReturned.topic, key: 'k', value: encodeEnvelope(envelope), headers: envelope.headers }]);
    },
  };
}

const dropped = (facts: InstrumentationEvent[]) => facts.filter((f) => f.kind === 'reply-dropped').map((f) => (f as { reason: string }).reason);

describe('requester', () => {
  it('sends the request with its routing headers and resolves with the reply of that id only', async () => {
    const s = await setup();
    const pending = s.requester.request(GetProfile, { userId: 'u-1', from: 'x' }, { timeoutMs: 10_000, correlationId: 'flow-1', headers: { 'X-Username': 'alice' } });
    await until(() => s.requester.pending === 1, 5_000, 'the request to wait');
    const ids = await waitForRequest(s);
    expect(ids.headers).toMatchObject({ [REPLY_HEADERS.replyTo]: 'notifier-1', [REPLY_HEADERS.requestId]: ids.id, 'X-Username': 'alice' });
    expect(ids.correlationId).toBe('flow-1');
    // another instance's reply and a reply to an unknown request come first: neither resolves it
    await s.reply({ replyTo: 'notifier-2', requestId: ids.id }, { userId: 'u-1', name: 'Wrong instance', from: 'x' });
    await s.reply({ replyTo: 'notifier-1', requestId: uuidv7() }, { userId: 'u-9', name: 'Stranger', from: 'x' });
    await s.reply({ replyTo: 'notifier-1', requestId: ids.id }, { userId: 'u-1', name: 'Alice', from: 'x' });
    const reply = await pending;
    expect(reply.data).toEqual({ userId: 'u-1', name: 'Alice', from: 'x' });
    expect(dropped(s.facts)).toEqual(['unknown']);
    // the same reply again (a redelivery) is a duplicate
    await s.reply({ replyTo: 'notifier-1', requestId: ids.id }, { userId: 'u-1', name: 'Alice', from: 'x' });
    await until(() => dropped(s.facts).length === 2, 5_000, 'the duplicate to be dropped');
    expect(dropped(s.facts)).toEqual(['unknown', 'duplicate']);
  });

  it("asked by a handler with its event as cause: the request takes the event's correlation, causation and trace context", async () => {
    const s = await setup();
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const cause: Envelope = {
      id: uuidv7(),
      type: 'OrderPlaced',
      version: 1,
      topic: 'orders',
      key: 'o-1',
      correlationId: 'order-flow-7',
      causationId: null,
      occurredAt: new Date().toISOString(),
      headers: { traceparent, tracestate: 'vendor=1' },
      data: {},
    };
    const pending = s.requester.request(GetProfile, { userId: 'u-1', from: 'x' }, { timeoutMs: 10_000, cause });
    const request = await waitForRequest(s);
    expect(request).toMatchObject({ correlationId: 'order-flow-7', causationId: cause.id });
    expect(request.headers).toMatchObject({ traceparent, tracestate: 'vendor=1', [REPLY_HEADERS.requestId]: request.id });
    await s.reply({ replyTo: 'notifier-1', requestId: request.id }, { userId: 'u-1', name: 'Alice', from: 'x' });
    expect((await pending).data).toMatchObject({ name: 'Alice' });
  });

  it('rejects with request-timeout, and drops the reply that comes later as late', async () => {
    const s = await setup();
    await expect(s.requester.request(GetProfile, { userId: 'u-2', from: 'x' }, { timeoutMs: 50 })).rejects.toMatchObject({
      code: 'request-timeout',
      retriable: true,
      details: { timeoutMs: 50 },
    });
    expect(s.requester.pending).toBe(0);
    const request = await waitForRequest(s);
    await s.reply({ replyTo: 'notifier-1', requestId: request.id }, { userId: 'u-2', name: 'Late', from: 'x' });
    await until(() => dropped(s.facts).length === 1, 5_000, 'the late reply to be dropped');
    expect(s.facts.filter((f) => f.kind === 'reply-dropped')).toEqual([
      { kind: 'reply-dropped', requester: 'notifier-1', topic: ProfileReturned.topic, replyType: 'ProfileReturned', reason: 'late' },
    ]);
  });

  it('rejects with the signal\'s reason when aborted', async () => {
    const s = await setup();
    const controller = new AbortController();
    const pending = s.requester.request(GetProfile, { userId: 'u-3', from: 'x' }, { timeoutMs: 10_000, signal: controller.signal });
    controller.abort(new Error('caller gave up'));
    await expect(pending).rejects.toThrow('caller gave up');
    expect(s.requester.pending).toBe(0);
  });

  it("rejects a reply that breaks its contract with reply-invalid, not the reply's schema-violation: the caller's request is not at fault", async () => {
    const s = await setup();
    const pending = s.requester.request(GetProfile, { userId: 'u-4', from: 'x' }, { timeoutMs: 10_000 }).catch((error: unknown) => error);
    const request = await waitForRequest(s);
    await s.reply({ replyTo: 'notifier-1', requestId: request.id }, { userId: 4 });
    const invalid = (await pending) as HeraldError;
    expect(invalid).toMatchObject({
      code: 'reply-invalid',
      retriable: false,
      details: { requestId: request.id, replyType: 'ProfileReturned', issues: expect.arrayContaining([expect.objectContaining({ path: '/userId' })]) },
      cause: expect.objectContaining({ code: 'schema-violation' }),
    });
    // the message names no field of the reply: an HTTP route shows it to its client
    expect(invalid.message).not.toMatch(/userId|name/);

    // a reply of another type is as unusable
    const another = s.requester.request(GetProfile, { userId: 'u-4', from: 'y' }, { timeoutMs: 10_000 }).catch((error: unknown) => error);
    await until(async () => (await s.requests()).length === 2, 5_000, 'the second request in the outbox');
    const second = (await s.requests())[1]!;
    await s.reply({ replyTo: 'notifier-1', requestId: second.id }, { userId: 'u-4', name: 'Four', from: 'y' }, 'ProfileDeleted');
    expect(await another).toMatchObject({ code: 'reply-invalid', details: { requestId: second.id }, cause: expect.objectContaining({ code: 'unknown-event-type' }) });
  });

  it("resolves with a reply of an earlier version upcast to the definition's, and refuses a newer one", async () => {
    const ProfileReturnedV2 = defineEvent({
      type: ProfileReturned.type,
      topic: ProfileReturned.topic,
      key: (d) => d.userId,
      version: 2,
      schema: Type.Object({ userId: Type.String(), displayName: Type.String(), from: Type.String() }),
      upcast: { from: ProfileReturned, data: ({ name, ...rest }) => ({ ...rest, displayName: name }) },
    });
    const GetProfileV2 = defineRequest({ request: ProfileRequested, reply: ProfileReturnedV2 });
    const s = await setup(true, { requests: [GetProfileV2] });
    const pending = s.requester.request(GetProfileV2, { userId: 'u-5', from: 'x' }, { timeoutMs: 10_000 });
    const request = await waitForRequest(s);
    // a replier not yet upgraded answers version 1
    await s.reply({ replyTo: 'notifier-1', requestId: request.id }, { userId: 'u-5', name: 'Five', from: 'x' }, ProfileReturned.type, 1);
    expect(await pending).toMatchObject({ type: 'ProfileReturned', version: 2, data: { userId: 'u-5', displayName: 'Five', from: 'x' } });

    // one upgraded past this requester answers a version it cannot read
    const newer = s.requester.request(GetProfileV2, { userId: 'u-6', from: 'y' }, { timeoutMs: 10_000 }).catch((error: unknown) => error);
    await until(async () => (await s.requests()).length === 2, 5_000, 'the second request in the outbox');
    const second = (await s.requests())[1]!;
    await s.reply({ replyTo: 'notifier-1', requestId: second.id }, { userId: 'u-6', displayName: 'Six', from: 'y' }, ProfileReturned.type, 3);
    expect(await newer).toMatchObject({ code: 'reply-invalid', cause: expect.objectContaining({ code: 'unknown-event-type', message: expect.stringContaining('version 3 of ProfileReturned is newer') }) });
  });

  it('refuses requests before start (requester-not-started) and rejects waiting ones at close (requester-closed)', async () => {
    const s = await setup(false);
    await expect(s.requester.request(GetProfile, { userId: 'u-5', from: 'x' })).rejects.toMatchObject({ code: 'requester-not-started' });
    await s.app.start();
    const pending = s.requester.request(GetProfile, { userId: 'u-5', from: 'x' }, { timeoutMs: 10_000 });
    await s.app.close();
    await expect(pending).rejects.toMatchObject({ code: 'requester-closed', retriable: true });
    await expect(s.requester.request(GetProfile, { userId: 'u-6', from: 'x' })).rejects.toMatchObject({ code: 'requester-closed', details: { sent: false } });
  });

  it('never sends a request that timed out or was aborted while the requester got ready', async () => {
    const s = await setup(true, { holdReady: true });
    const controller = new AbortController();
    const timedOut = s.requester.request(GetProfile, { userId: 'u-7', from: 'timed-out' }, { timeoutMs: 20 });
    const aborted = s.requester.request(GetProfile, { userId: 'u-7', from: 'aborted' }, { timeoutMs: 10_000, signal: controller.signal });
    await expect(timedOut).rejects.toMatchObject({ code: 'request-timeout' });
    controller.abort(new Error('caller gave up'));
    await expect(aborted).rejects.toThrow('caller gave up');
    s.releaseReady();
    await s.app.ready();
    // sent after the two, with the same key (so the same partition): once it is out, they would be too
    const answered = s.requester.request(GetProfile, { userId: 'u-7', from: 'after-ready' }, { timeoutMs: 10_000 });
    const request = await waitForRequest(s);
    expect((await s.requests()).map((r) => (r.data as { from: string }).from)).toEqual(['after-ready']);
    await s.reply({ replyTo: 'notifier-1', requestId: request.id }, { userId: 'u-7', name: 'Seven', from: 'after-ready' });
    expect((await answered).data).toEqual({ userId: 'u-7', name: 'Seven', from: 'after-ready' });
  });

  it('tells, at close, a request never sent (details.sent false) from one that may have been (details.sent true)', async () => {
    const unsent = await setup(true, { holdReady: true });
    const never = unsent.requester.request(GetProfile, { userId: 'u-8', from: 'x' }, { timeoutMs: 10_000 });
    await unsent.app.close();
    await expect(never).rejects.toMatchObject({ code: 'requester-closed', retriable: true, details: { sent: false } });
    expect(await unsent.requests()).toEqual([]);

    const s = await setup();
    const waiting = s.requester.request(GetProfile, { userId: 'u-9', from: 'x' }, { timeoutMs: 10_000 });
    const request = await waitForRequest(s);
    await s.app.close();
    await expect(waiting).rejects.toMatchObject({ code: 'requester-closed', retriable: true, details: { sent: true, requestId: request.id } });
  });

  it('refuses a request type it was not given, and bad options', async () => {
    const s = await setup();
    const Other = defineRequest({ request: ProfileRequested, reply: { ...ProfileReturned, type: 'Other', topic: 'other.response' } });
    await expect(s.requester.request(Other, { userId: 'u', from: 'x' })).rejects.toMatchObject({ code: 'invalid-options' });
    await expect(s.requester.request(GetProfile, { userId: 'u', from: 'x' }, { timeoutMs: 0 })).rejects.toMatchObject({ code: 'invalid-options' });
    // a timer cannot wait 2^31 ms or more (it would fire at once): refused, naming the option
    await expect(s.requester.request(GetProfile, { userId: 'u', from: 'x' }, { timeoutMs: 2 ** 31 })).rejects.toMatchObject({
      code: 'invalid-options',
      message: expect.stringContaining('timeoutMs must be at most 2147483647'),
    });
    expect(() => createRequester({ app: s.app, requests: [GetProfile], defaultTimeoutMs: 2 ** 31 })).toThrow(
      expect.objectContaining({ code: 'invalid-options', message: expect.stringContaining('defaultTimeoutMs must be at most 2147483647') }),
    );
    const longest = s.requester.request(GetProfile, { userId: 'u', from: 'x' }, { timeoutMs: 2 ** 31 - 1 }).catch((error: unknown) => error);
    await waitForRequest(s);
    expect(s.requester.pending).toBe(1); // still waiting: not timed out at once
    await s.app.close();
    expect(await longest).toMatchObject({ code: 'requester-closed' });
    expect(() => createRequester({ app: s.app, requests: [] })).toThrow(expect.objectContaining({ code: 'invalid-options' }));
    expect(() => createRequester({ app: s.app, requests: [GetProfile], instanceId: 'has space' })).toThrow(expect.objectContaining({ code: 'invalid-options' }));
    expect(() => defineRequest({ request: ProfileRequested, reply: { ...ProfileReturned, topic: ProfileRequested.topic } })).toThrow(
      expect.objectContaining({ code: 'invalid-options' }),
    );
  });
});

describe('requester behind an HTTP route', () => {
  it("answers 502 reply-invalid without the reply's fields, 504 request-timeout, 503 requester-not-started and requester-closed", async () => {
    const s = await setup(false);
    const gateway = createGateway<MemoryTx>({ app: s.app });
    gateway.query({
      url: '/profiles/:id',
      params: Type.Object({ id: Type.String() }),
      handle: async ({ params }) => (await s.requester.request(GetProfile, { userId: params.id, from: 'http' }, { timeoutMs: params.id === 'silent' ? 50 : 10_000 })).data,
    });
    const get = async (id: string) => {
      const response = await gateway.fastify.inject({ method: 'GET', url: `/profiles/${id}` });
      return { status: response.statusCode, contentType: response.headers['content-type'], retryAfter: response.headers['retry-after'], body: response.json() as Record<string, unknown> };
    };
    try {
      expect(await get('early')).toMatchObject({ status: 503, retryAfter: '1', body: { code: 'requester-not-started' } });
      await s.app.start();

      const bad = get('u-1');
      const request = await waitForRequest(s);
      await s.reply({ replyTo: 'notifier-1', requestId: request.id }, { userId: 1, secret: 'x' });
      // before the fix: 422 schema-violation, blaming the client and listing the reply's fields
      const invalid = await bad;
      expect(invalid).toMatchObject({ status: 502, contentType: 'application/problem+json', body: { code: 'reply-invalid', title: 'Bad gateway', type: 'urn:herald:problem:reply-invalid' } });
      expect(invalid.body).not.toHaveProperty('errors');
      expect(JSON.stringify(invalid.body)).not.toMatch(/userId|secret/);

      // before the fix: 503 unavailable with a generic detail
      expect(await get('silent')).toMatchObject({ status: 504, body: { code: 'request-timeout', title: 'Gateway timeout', detail: 'a service this one depends on did not answer in time; retry later' } });

      const waiting = get('u-2');
      await until(() => s.requester.pending === 1, 5_000, 'the request to wait');
      await s.app.close();
      expect(await waiting).toMatchObject({ status: 503, retryAfter: '1', body: { code: 'requester-closed' } });
    } finally {
      await gateway.close();
    }
  });
});

/** The last request the app published, once it is in the outbox. */
async function waitForRequest(s: Setup): Promise<Envelope> {
  let found: Envelope | undefined;
  await until(async () => (found = (await s.requests()).at(-1)) !== undefined, 5_000, 'the request in the outbox');
  return found!;
}
