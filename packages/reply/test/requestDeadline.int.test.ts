import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp, defineEvent, encodeEnvelopeValue, type App, type Envelope, type InstrumentationEvent, type Logger, type Middleware, type SqlTx } from '@herald/core';
import { sqliteEngine } from '@herald/sqlite';
import { Type } from '@sinclair/typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRequester, defineRequest, replier, REPLY_HEADERS, type Requester } from '../src/index.js';
import { until } from './scenario.js';

// The deadline a request carries, on the embedded engine (real SQLite files): a replier that reads a
// request after its requester stopped waiting skips it. Every request has one partition key, so
// once a later request is answered, every earlier one has been handled (answered or skipped).

const QuoteRequested = defineEvent({ type: 'QuoteRequested', topic: 'quotes', key: () => 'q', schema: Type.Object({ name: Type.String() }) });
const QuoteReturned = defineEvent({ type: 'QuoteReturned', topic: 'quotes.reply', key: () => 'q', schema: Type.Object({ name: Type.String() }) });
const GetQuote = defineRequest({ request: QuoteRequested, reply: QuoteReturned });
/** Answered by a replier whose clock-skew allowance is long. */
const GetLenientQuote = defineRequest({
  request: defineEvent({ type: 'LenientQuoteRequested', topic: 'quotes.lenient', key: () => 'q', schema: Type.Object({ name: Type.String() }) }),
  reply: defineEvent({ type: 'LenientQuoteReturned', topic: 'quotes.lenient.reply', key: () => 'q', schema: Type.Object({ name: Type.String() }) }),
});

const dir = mkdtempSync(join(tmpdir(), 'herald-reply-deadline-'));
const engine = () => sqliteEngine({ dataDir: dir, log: { heartbeatMs: 100, sessionTimeoutMs: 1_000 } });
const apps: App<SqlTx>[] = [];
/** Names the repliers answered, with the deadline header each request carried. */
const answered = new Map<string, string | undefined>();
const held = new Map<string, Promise<unknown>>();
const logged: { message: string; fields: Record<string, unknown> | undefined }[] = [];
const facts: InstrumentationEvent[] = [];
/** The facts of the repliers' apps. */
const replierFacts: InstrumentationEvent[] = [];
/** The requests the repliers read, by name (the last read of each). */
const read = new Map<string, Envelope>();
let requester: Requester;

/** Info lines kept; the rest dropped. */
const infoLogger: Logger = {
  debug: () => undefined,
  info: (message, fields) => void logged.push({ message, fields }),
  warn: () => undefined,
  error: () => undefined,
  child: () => infoLogger,
};

async function open(name: string, logger: Logger = infoLogger): Promise<App<SqlTx>> {
  const app = createApp<SqlTx>({ ...engine(), name, logger, relay: { idleMs: 5 } });
  apps.push(app);
  return app;
}

/** Holds the requests whose name `held` lists before their handler (and its clock reading) runs. */
const hold: Middleware<SqlTx> = (next) =>
  async function holdRequest(event, ctx) {
    read.set((event.data as { name: string }).name, event);
    await held.get((event.data as { name: string }).name);
    await next(event, ctx);
  };

beforeAll(async () => {
  const answer = async (request: Envelope<{ name: string }>) => {
    answered.set(request.data.name, request.headers[REPLY_HEADERS.deadline]);
    return { name: request.data.name };
  };
  const strict = await open('strict');
  strict.on(QuoteRequested, { group: 'strict', middleware: [hold] }, replier(GetQuote, answer, { clockSkewAllowanceMs: 0 }));
  strict.instrumentation.on((fact) => replierFacts.push(fact));
  const lenient = await open('lenient');
  lenient.on(GetLenientQuote.request, { group: 'lenient', middleware: [hold] }, replier(GetLenientQuote, answer, { clockSkewAllowanceMs: 600_000 }));
  lenient.instrumentation.on((fact) => replierFacts.push(fact));
  const asking = await open('asking');
  requester = createRequester({ app: asking, requests: [GetQuote, GetLenientQuote], instanceId: 'asking' });
  asking.use(requester);
  asking.instrumentation.on((fact) => facts.push(fact));
  for (const app of apps) await app.start();
  for (const app of apps) await app.ready();
});
afterAll(async () => {
  for (const app of apps.reverse()) await app.close();
  rmSync(dir, { recursive: true, force: true });
});

const expired = () => replierFacts.filter((f) => f.kind === 'request-expired');

describe('a request past its deadline', () => {
  it('carries its deadline: the call time plus timeoutMs, in epoch ms', async () => {
    const before = Date.now();
    const reply = await requester.request(GetQuote, { name: 'in-time' }, { timeoutMs: 30_000 });
    expect(reply.data.name).toBe('in-time');
    const deadline = Number(answered.get('in-time'));
    expect(deadline).toBeGreaterThanOrEqual(before + 30_000);
    expect(deadline).toBeLessThanOrEqual(Date.now() + 30_000);
  });

  it('is skipped: its answer never runs, nothing is replied, and the skip is logged and emitted as a request-expired fact', async () => {
    let release!: () => void;
    held.set('expired', new Promise((resolve) => (release = () => resolve(undefined))));
    // the requester gives up while the replier holds the request; only then does the replier read its clock
    await expect(requester.request(GetQuote, { name: 'expired' }, { timeoutMs: 200 })).rejects.toMatchObject({ code: 'request-timeout' });
    release();
    expect((await requester.request(GetQuote, { name: 'after' })).data.name).toBe('after');
    expect(answered.has('expired')).toBe(false);
    expect(logged.filter((l) => l.message.startsWith('replier: skipped'))).toEqual([
      { message: 'replier: skipped a request past its deadline; its requester no longer waits', fields: expect.objectContaining({ requestType: 'QuoteRequested', requester: 'asking' }) },
    ]);
    expect(facts.filter((f) => f.kind === 'reply-dropped')).toEqual([]);
    expect(expired()).toEqual([{ kind: 'request-expired', group: 'strict', topic: 'quotes', requestType: 'QuoteRequested', requester: 'asking', lateByMs: expect.any(Number) }]);
    const [fact] = expired() as { lateByMs: number }[];
    expect(fact!.lateByMs).toBe((logged.find((l) => l.message.startsWith('replier: skipped'))!.fields as { lateByMs: number }).lateByMs);
    expect(fact!.lateByMs).toBeGreaterThanOrEqual(0);
  });

  it('is emitted once: a redelivery of the skipped request is absorbed by the inbox, not skipped again', async () => {
    const skipped = read.get('expired')!;
    const [strict] = apps;
    const outcomes = () => replierFacts.flatMap((f) => (f.kind === 'handled' && f.eventId === skipped.id ? [f.outcome] : []));
    // the same record again (id, deadline, routing headers), as a broker redelivers it
    await strict!.broker.publish([{ topic: skipped.topic, key: skipped.key, value: encodeEnvelopeValue(skipped), headers: skipped.headers }]);
    await until(() => outcomes().length === 2, 10_000, 'the redelivered request to be handled');
    expect({ outcomes: outcomes(), expired: expired().length }).toEqual({ outcomes: ['applied', 'duplicate'], expired: 1 });
  });

  it('is still answered within the skew allowance (its late reply is dropped by the requester)', async () => {
    const mark = facts.length;
    let release!: () => void;
    held.set('lenient-late', new Promise((resolve) => (release = () => resolve(undefined))));
    const request = requester.request(GetLenientQuote, { name: 'lenient-late' }, { timeoutMs: 200 });
    await expect(request).rejects.toMatchObject({ code: 'request-timeout' });
    release();
    await until(() => facts.slice(mark).some((f) => f.kind === 'reply-dropped'), 10_000, 'the late reply to be dropped');
    expect(facts.slice(mark).filter((f) => f.kind === 'reply-dropped').map((f) => (f as { reason: string }).reason)).toEqual(['late']);
    expect(answered.has('lenient-late')).toBe(true);
    expect(expired()).toHaveLength(1);
  });

  it('without a deadline (an older requester) is answered as before', async () => {
    const [asking] = apps.slice(-1);
    await asking!.publish(QuoteRequested, { name: 'no-deadline' }, { headers: { [REPLY_HEADERS.replyTo]: 'an-older-requester', [REPLY_HEADERS.requestId]: 'r-1' } });
    expect((await requester.request(GetQuote, { name: 'after-old' })).data.name).toBe('after-old');
    expect(answered.has('no-deadline')).toBe(true);
    expect(answered.get('no-deadline')).toBeUndefined();
  });
});
