import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  createInstrumentation,
  createManualClock,
  createRelay,
  CoreErrors,
  ErrorCodes,
  HeraldError,
  MAX_TIMER_MS,
  silentLogger,
  type Broker,
  type InstrumentationEvent,
  type Logger,
  type ManualClock,
  type OutboxRecord,
  type OutboxStore,
  type OutgoingRecord,
  type RelayOptions,
  type Stores,
} from '@herald/core';
import { sqliteStores } from '@herald/sqlite';
import { memoryStores } from '@herald/testing';

const T0 = Date.UTC(2026, 0, 1);
const tmp = mkdtempSync(join(tmpdir(), 'herald-relay-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.allSettled(cleanups.splice(0).map((c) => c()));
});

type AnyStores = Stores<unknown> & { readonly outbox: OutboxStore<unknown> };

const ENGINES: readonly (readonly [string, (clock: ManualClock) => AnyStores])[] = [
  ['memory', (clock) => memoryStores({ clock }) as unknown as AnyStores],
  ['sqlite', (clock) => sqliteStores({ path: join(tmp, `relay-${Math.random().toString(36).slice(2)}.db`), clock }) as unknown as AnyStores],
];

function newStores(engine: (clock: ManualClock) => AnyStores, clock: ManualClock): AnyStores {
  const stores = engine(clock);
  cleanups.push(() => stores.close());
  return stores;
}

let seq = 0;
function record(id: string, key: string, topic = 'orders', value = `{"id":"${id}"}`): OutboxRecord {
  return { id: `${++seq}-${id}`, topic, key, type: 'T', correlationId: 'flow', value, headers: { name: id }, createdAt: T0 };
}
/** The short name a test gave a record (outbox and broker records alike). */
const name = (r: { readonly headers?: Readonly<Record<string, string>> }) => r.headers?.['name'] ?? '?';

async function append(stores: AnyStores, records: readonly OutboxRecord[]): Promise<void> {
  await stores.transaction((tx) => stores.outbox.append(tx, records));
}

/** Which records of the flow the outbox has marked published, and which still wait. */
async function states(stores: AnyStores): Promise<Record<string, 'published' | 'waiting'>> {
  const entries = await stores.outbox.findByCorrelation('flow');
  return Object.fromEntries(entries.map((e) => [name(e), e.publishedAt === null ? 'waiting' : 'published']));
}

/**
 * A broker that refuses, for good (`event-too-large`, as Kafka maps MESSAGE_TOO_LARGE), any
 * publish holding a value longer than `maxBytes`; it records what it accepted and every call.
 */
function sizeLimitedBroker(limit: { maxBytes: number }) {
  const accepted: OutgoingRecord[] = [];
  const calls: string[][] = [];
  const broker: Broker = {
    async publish(records) {
      calls.push(records.map(name));
      if (records.some((r) => r.value.length > limit.maxBytes)) throw new HeraldError(CoreErrors.eventTooLarge, 'kafka: MESSAGE_TOO_LARGE');
      accepted.push(...records);
    },
    subscribe: () => Promise.reject(new Error('not used')),
    close: async () => {},
  };
  return { broker, accepted, calls };
}

function recordingLogger() {
  const lines: { level: string; message: string; fields: Record<string, unknown> }[] = [];
  const log = (level: string) => (message: string, fields: Record<string, unknown> = {}) => void lines.push({ level, message, fields });
  const logger: Logger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error'), child: () => logger };
  return { logger, lines };
}

const BIG = 'x'.repeat(2000);
const NO_JITTER = { initialDelayMs: 100, maxDelayMs: 400, factor: 2, jitter: 0 } as const;

describe.each(ENGINES)('the relay over the %s outbox, when the broker refuses a record for good', (_engine, engine) => {
  it('publishes every other key, holds back the later records of its key, and tries it again alone with backoff', async () => {
    const clock = createManualClock(T0);
    const stores = newStores(engine, clock);
    const limit = { maxBytes: 1000 };
    const { broker, accepted, calls } = sizeLimitedBroker(limit);
    const { logger, lines } = recordingLogger();
    const instrumentation = createInstrumentation();
    const facts: InstrumentationEvent[] = [];
    instrumentation.on((fact) => facts.push(fact));
    const relay = createRelay({ outbox: stores.outbox, broker, clock, logger, instrumentation }, { backoff: NO_JITTER });
    await append(stores, [record('a1', 'a', 'big', BIG), record('b1', 'b'), record('a2', 'a'), record('c1', 'c', 'payments')]);
    await append(stores, [record('b2', 'b'), record('d1', 'd')]);

    expect(await relay.drain()).toBe(4);
    expect(accepted.map(name)).toEqual(['b1', 'c1', 'b2', 'd1']);
    expect(await states(stores)).toEqual({ a1: 'waiting', b1: 'published', a2: 'waiting', c1: 'published', b2: 'published', d1: 'published' });
    // bounded: the batch, then halves down to the refused record alone
    expect(calls.length).toBeLessThanOrEqual(2 * 6 - 1);
    const refusals = lines.filter((l) => l.level === 'error');
    expect(refusals).toHaveLength(1);
    expect(refusals[0]!.fields).toMatchObject({ topic: 'big', key: 'a', code: ErrorCodes.eventTooLarge, attempts: 1, retryInMs: 100 });
    expect(String(refusals[0]!.fields['eventId'])).toMatch(/-a1$/);
    expect(facts.filter((f) => f.kind === 'relay-failed')).toEqual([expect.objectContaining({ kind: 'relay-failed', count: 1, error: expect.objectContaining({ code: ErrorCodes.eventTooLarge }) })]);

    // not due yet: nothing is tried
    const callsBefore = calls.length;
    expect(await relay.drain()).toBe(0);
    expect(calls.length).toBe(callsBefore);

    // due: tried alone, refused again, reported again, and the backoff doubles
    await clock.advance(100);
    expect(await relay.drain()).toBe(0);
    expect(calls.slice(callsBefore)).toEqual([['a1']]);
    expect(lines.filter((l) => l.level === 'error').map((l) => [l.fields['attempts'], l.fields['retryInMs']])).toEqual([
      [1, 100],
      [2, 200],
    ]);
    expect(facts.filter((f) => f.kind === 'relay-failed')).toHaveLength(2);

    // the topic's limit is raised: the record goes out, then the one held behind it, in order
    limit.maxBytes = 10_000;
    await clock.advance(200);
    expect(await relay.drain()).toBe(2);
    expect(accepted.map(name)).toEqual(['b1', 'c1', 'b2', 'd1', 'a1', 'a2']);
    expect(Object.values(await states(stores))).toEqual(Array(6).fill('published'));
  });

  it('keeps publishing other keys while a key behind a refused record has more than a batch waiting', async () => {
    const clock = createManualClock(T0);
    const stores = newStores(engine, clock);
    const { broker, accepted } = sizeLimitedBroker({ maxBytes: 1000 });
    const relay = createRelay({ outbox: stores.outbox, broker, clock, logger: silentLogger }, { backoff: NO_JITTER, batchSize: 4 });
    await append(stores, [record('a0', 'a', 'big', BIG), ...Array.from({ length: 10 }, (_, i) => record(`a${i + 1}`, 'a'))]);
    await append(stores, [record('b1', 'b'), record('c1', 'c')]);
    await relay.drain();
    expect(accepted.map(name)).toEqual(['b1', 'c1']);
  });

  it('keeps publishing other keys however many batches wait behind a refused record, and then its key in order (the review repro)', async () => {
    // claims return records in append order: without skipping the held key, more than ten batches
    // of it behind the refused record filled every claim, and nothing at all was published
    const clock = createManualClock(T0);
    const stores = newStores(engine, clock);
    const limit = { maxBytes: 1000 };
    const { broker, accepted, calls } = sizeLimitedBroker(limit);
    const relay = createRelay({ outbox: stores.outbox, broker, clock, logger: silentLogger }, { backoff: NO_JITTER, batchSize: 2 });
    const hot = Array.from({ length: 25 }, (_, i) => `hot${i + 1}`);
    await append(stores, [record('hot0', 'hot', 'big', BIG), ...hot.map((id) => record(id, 'hot'))]);
    await append(stores, [record('other1', 'other')]);

    // due retries among them: the refused record is tried again alone, and refused again
    for (let i = 0; i < 5; i++) {
      await relay.drain();
      await clock.advance(100);
    }
    await append(stores, [record('other2', 'other')]);
    await relay.drain();
    expect(accepted.map(name)).toEqual(['other1', 'other2']);
    expect(Object.entries(await states(stores)).filter(([, state]) => state === 'published').map(([id]) => id)).toEqual(['other1', 'other2']);
    // tried only when due (at 0, 100 and 300 ms): skipping its key does not forget its backoff
    expect(calls.filter((call) => call.includes('hot0'))).toEqual([['hot0', 'hot1'], ['hot0'], ['hot0'], ['hot0']]);

    // the topic's limit is raised: the refused record goes out, then every record of its key, in order
    limit.maxBytes = 10_000;
    await clock.advance(400);
    await relay.drain();
    expect(accepted.map(name)).toEqual(['other1', 'other2', 'hot0', ...hot]);
    expect(Object.values(await states(stores))).toEqual(Array(28).fill('published'));
  });
});

describe('the relay loop', () => {
  /** Lets the relay's loop run between steps of manual time. */
  async function runFor(clock: ManualClock, ms: number, stepMs: number): Promise<void> {
    for (let t = 0; t < ms; t += stepMs) {
      await clock.advance(stepMs);
      await new Promise((r) => setImmediate(r));
    }
  }

  it('delivers the other topics and keys while one record is refused, trying it with backoff (the review repro)', async () => {
    const clock = createManualClock(T0);
    const stores = memoryStores({ clock });
    const { broker, accepted, calls } = sizeLimitedBroker({ maxBytes: 1_048_576 });
    const relay = createRelay({ outbox: stores.outbox, broker, stores, clock, logger: silentLogger }, { backoff: { initialDelayMs: 10, maxDelayMs: 40, jitter: 0 } });
    await append(stores as unknown as AnyStores, [record('1', 'a', 'big', 'x'.repeat(2_000_000)), record('2', 'b'), record('3', 'c', 'payments')]);
    await relay.start();
    cleanups.push(() => relay.close());
    await runFor(clock, 1500, 5);
    expect(accepted.map((r) => r.topic)).toEqual(['orders', 'payments']);
    const attempts = calls.filter((c) => c.includes('1')).length;
    // every 40 ms at most once the backoff is at its bound: kept trying, never in a hot loop
    expect(attempts).toBeGreaterThan(20);
    expect(attempts).toBeLessThanOrEqual(1500 / 40 + 5);
  });

  it('retries the whole batch after a backoff on a retriable failure, as before', async () => {
    const clock = createManualClock(T0);
    const stores = memoryStores({ clock });
    const accepted: string[] = [];
    const calls: string[][] = [];
    let failures = 2;
    const broker: Broker = {
      async publish(records) {
        calls.push(records.map(name));
        if (failures-- > 0) throw new HeraldError(CoreErrors.brokerUnavailable, 'broker down');
        accepted.push(...records.map(name));
      },
      subscribe: () => Promise.reject(new Error('not used')),
      close: async () => {},
    };
    const relay = createRelay({ outbox: stores.outbox, broker, stores, clock, logger: silentLogger }, { backoff: NO_JITTER });
    await append(stores as unknown as AnyStores, [record('a1', 'a'), record('b1', 'b'), record('a2', 'a')]);
    await relay.start();
    cleanups.push(() => relay.close());
    await runFor(clock, 99, 1);
    expect(calls).toEqual([['a1', 'b1', 'a2']]);
    await runFor(clock, 1000, 1);
    expect(calls).toEqual([['a1', 'b1', 'a2'], ['a1', 'b1', 'a2'], ['a1', 'b1', 'a2']]);
    expect(accepted).toEqual(['a1', 'b1', 'a2']);
  });
});

describe('closing the relay', () => {
  it('resolves by its deadline while a publish hangs; the records stay in the outbox and nothing is left unhandled', async () => {
    const clock = createManualClock(T0);
    const stores = memoryStores({ clock });
    let fail!: (error: Error) => void;
    let publishing!: () => void;
    const inFlight = new Promise<void>((resolve) => (publishing = resolve));
    const broker: Broker = {
      publish: () => {
        publishing();
        return new Promise<void>((_, reject) => (fail = reject));
      },
      subscribe: () => Promise.reject(new Error('not used')),
      close: async () => {},
    };
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    cleanups.push(async () => void process.off('unhandledRejection', onUnhandled));
    const relay = createRelay({ outbox: stores.outbox, broker, stores, clock, logger: silentLogger }, { leaseMs: 1000 });
    await append(stores as unknown as AnyStores, [record('a1', 'a')]);
    await relay.start();
    await inFlight;

    let closed = false;
    const closing = relay.close({ deadlineMs: 100 }).then(() => (closed = true));
    await clock.advance(99);
    await new Promise((r) => setImmediate(r));
    expect(closed).toBe(false);
    await clock.advance(1);
    const outcome = await Promise.race([closing.then(() => 'closed'), new Promise((r) => setTimeout(() => r('still waiting for the publish'), 2000))]);
    expect(outcome).toBe('closed');

    // the abandoned publish fails later: handled, and its record waits for the next relay
    fail(new HeraldError(CoreErrors.brokerUnavailable, 'gave up'));
    await new Promise((r) => setTimeout(r, 20));
    expect(unhandled).toEqual([]);
    await clock.advance(1000);
    expect((await stores.outbox.claim({ relayId: 'next', limit: 10, leaseMs: 1000 })).map(name)).toEqual(['a1']);
  });
});

describe('relay options', () => {
  const outbox = memoryStores().outbox;
  const broker: Broker = { publish: async () => {}, subscribe: () => Promise.reject(new Error('not used')), close: async () => {} };
  const create = (options: RelayOptions) => () => createRelay({ outbox, broker }, options);

  it.each([
    ['idleMs', { idleMs: MAX_TIMER_MS + 1 }],
    ['leaseMs', { leaseMs: 2 ** 32 }],
    ['backoff.maxDelayMs', { backoff: { maxDelayMs: MAX_TIMER_MS + 1 } }],
    ['batchSize', { batchSize: 1.5 }],
  ] as const)('refuses %s out of range with invalid-options', (_option, options) => {
    expect(create(options)).toThrow(expect.objectContaining({ code: ErrorCodes.invalidOptions }));
  });

  it('accepts durations up to the longest timer', () => {
    expect(create({ idleMs: MAX_TIMER_MS, leaseMs: MAX_TIMER_MS, backoff: { initialDelayMs: 1, maxDelayMs: MAX_TIMER_MS } })).not.toThrow();
  });
});
