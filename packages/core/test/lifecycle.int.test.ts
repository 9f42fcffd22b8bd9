import { Type } from '@sinclair/typebox';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp, defineEvent, silentLogger, type App, type Component, type Delivery, type InstrumentationEvent } from '@herald/core';
import { memoryBroker, memoryStores, type MemoryBroker, type MemoryStores, type MemoryTx } from '@herald/testing';

const Ping = defineEvent({ type: 'Ping', topic: 'pings', key: (d) => d.key, schema: Type.Object({ key: Type.String(), n: Type.Integer() }) });

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.allSettled(cleanups.splice(0).map((c) => c()));
});

function engine(): { broker: MemoryBroker; stores: MemoryStores } {
  return { broker: memoryBroker({ partitions: 3 }), stores: memoryStores() };
}

function newApp(parts = engine(), options: Partial<Parameters<typeof createApp<MemoryTx>>[0]> = {}): App<MemoryTx> {
  const app = createApp<MemoryTx>({ ...parts, logger: silentLogger, events: [Ping], relay: { idleMs: 2 }, groups: { g: { commitIntervalMs: 10 } }, ...options });
  cleanups.push(() => app.close({ deadlineMs: 1000 }));
  return app;
}

/** The stores without their outbox signal: the relay then wakes only on its own idle timer. */
function withoutSignal(stores: MemoryStores): MemoryStores {
  const { onAppended: _unused, ...rest } = stores;
  return rest as MemoryStores;
}

/** A raw subscription of a fresh group on `topic`, recording deliveries. */
async function probe(broker: MemoryBroker, topic: string): Promise<Delivery[]> {
  const seen: Delivery[] = [];
  const sub = await broker.subscribe({ group: `probe-${Math.random()}`, topics: [topic] }, { deliver: async (b) => void seen.push(...b.deliveries), revoked: async () => {} });
  cleanups.push(() => sub.close());
  return seen;
}

async function eventually(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function recorder(name: string, log: string[], onClose?: () => Promise<void>): Component {
  return {
    name,
    async start() {
      log.push(`start ${name}`);
    },
    async close({ deadlineMs }) {
      log.push(`close ${name} (${deadlineMs > 0 ? 'with time left' : 'no time'})`);
      await onClose?.();
    },
  };
}

/** A component whose start waits until `release()`: a slow connect. */
function slowToStart(name: string, log: string[]): { component: Component; beginning: Promise<void>; release: () => void } {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let began!: () => void;
  const beginning = new Promise<void>((resolve) => (began = resolve));
  const component: Component = {
    ...recorder(name, log),
    async start() {
      log.push(`start ${name}`);
      began();
      await gate;
      log.push(`started ${name}`);
    },
  };
  return { component, beginning, release };
}

/** The engine, logging when its broker and its stores close. */
function loggedEngine(log: string[]): { broker: MemoryBroker; stores: MemoryStores } {
  const { broker, stores } = engine();
  return {
    broker: { ...broker, close: async () => (log.push('broker closed'), broker.close()) },
    stores: { ...stores, close: async () => (log.push('stores closed'), stores.close()) },
  };
}

const onlyAdded = { groups: false, relay: false, timers: false } as const;

describe('the app lifecycle', () => {
  it('starts added components after the built-in ones and closes them first, in reverse order, while the groups still run', async () => {
    const log: string[] = [];
    const handled: number[] = [];
    const app = newApp();
    app.on(Ping, { group: 'g' }, async (event) => void handled.push(event.data.n));
    app.use(recorder('a', log));
    app.use(
      recorder('b', log, async () => {
        // a component closing first may still rely on the pipeline: the group and the relay run
        await app.publish(Ping, { key: 'k', n: 2 });
        await eventually(() => handled.includes(2), 'the event published while b closes to be handled');
      }),
    );
    await app.start();
    await app.publish(Ping, { key: 'k', n: 1 });
    await eventually(() => handled.includes(1), 'the first event');
    await app.close({ deadlineMs: 5000 });
    expect(log).toEqual(['start a', 'start b', 'close b (with time left)', 'close a (with time left)']);
    expect(handled).toEqual([1, 2]);
  });

  it('starts a service the handlers call before the consumer groups and closes it after them, so a backlog and the drain can use it', async () => {
    const log: string[] = [];
    const app = newApp();
    // a backlog waiting when the app starts
    await app.publish(Ping, { key: 'k', n: 1 });
    let service: 'new' | 'running' | 'closed' = 'new';
    const seen: string[] = [];
    let release!: () => void;
    const draining = new Promise<void>((resolve) => (release = resolve));
    app.on(Ping, { group: 'g', retry: { maxAttempts: 1 } }, async (event) => {
      seen.push(`${event.data.n}:${service}`);
      // the second event is in flight when the close begins: its drain still calls the service
      if (event.data.n === 2) await draining;
      seen.push(`${event.data.n}:${service}`);
    });
    app.use({
      ...recorder('plain', log),
      // started after the groups: it waits until the backlog was handled
      async start() {
        await eventually(() => seen.length === 2, 'the backlog event');
        log.push('start plain');
      },
    });
    app.use({
      ...recorder('service', log, async () => void (service = 'closed')),
      servesHandlers: true,
      async start() {
        log.push('start service');
        service = 'running';
      },
    } as Component);
    await app.start();
    await eventually(() => seen.length === 2, 'the backlog event');
    await app.publish(Ping, { key: 'k', n: 2 });
    await eventually(() => seen.length === 3, 'the second event to be in flight');
    const closed = app.close({ deadlineMs: 5000 });
    await eventually(() => log.includes('close plain (with time left)'), 'the plain component to close');
    release();
    await closed;
    expect(seen).toEqual(['1:running', '1:running', '2:running', '2:running']);
    expect(log).toEqual(['start service', 'start plain', 'close plain (with time left)', 'close service (with time left)']);
    expect(await app.deadLetters()).toEqual([]);
  });

  it('closes a component of a user’s named like a built-in one (relay, group:g) once, in the added components’ place', async () => {
    const log: string[] = [];
    const app = newApp();
    app.on(Ping, { group: 'g' }, async () => {});
    app.use(recorder('relay', log)).use(recorder('group:g', log));
    await app.start();
    await app.close({ deadlineMs: 5000 });
    expect(log).toEqual(['start relay', 'start group:g', 'close group:g (with time left)', 'close relay (with time left)']);
  });

  it('refuses components after start, duplicates, and things that are not components', async () => {
    const app = newApp();
    app.use(recorder('x', []));
    expect(() => app.use(recorder('x', []))).toThrow(expect.objectContaining({ code: 'invalid-options' }));
    expect(() => app.use({ name: 'half' } as unknown as Component)).toThrow(expect.objectContaining({ code: 'invalid-options' }));
    await app.start({ groups: false });
    expect(() => app.use(recorder('late', []))).toThrow(expect.objectContaining({ code: 'invalid-options' }));
  });

  it('is ready once every group has its first assignment, and ready() rejects when closed first', async () => {
    const app = newApp();
    app.on(Ping, { group: 'g' }, async () => {});
    const assigned: InstrumentationEvent[] = [];
    app.instrumentation.on((e) => e.kind === 'assigned' && assigned.push(e));
    await expect(app.ready()).rejects.toMatchObject({ code: 'invalid-options' });
    await app.start();
    await app.ready();
    expect(assigned).toHaveLength(1);

    const slow = createApp<MemoryTx>({ ...engine(), logger: silentLogger, events: [Ping] });
    slow.use({ name: 'never-ready', start: async () => {}, ready: () => new Promise(() => {}), close: async () => {} });
    await slow.start({ groups: false, relay: false });
    const waiting = slow.ready();
    await slow.close();
    await expect(waiting).rejects.toMatchObject({ code: 'closed' });
  });

  it('runs no relay when told not to: committed events wait in the outbox', async () => {
    const parts = engine();
    const app = newApp(parts, { relay: false });
    await app.start({ groups: false });
    await app.publish(Ping, { key: 'k', n: 1 });
    // a relay drains the outbox when its app closes (see the next test): once closed, whatever one
    // would have sent is on the broker
    await app.close({ deadlineMs: 5000 });
    expect(parts.broker.records('pings')).toEqual([]);
    const waiting = await parts.stores.outbox.claim({ relayId: 'check', limit: 10, leaseMs: 1000 });
    expect(waiting.map((r) => r.type)).toEqual(['Ping']);
  });

  it('drains the relay within the close deadline, so a producer that exits at once loses nothing', async () => {
    const parts = engine();
    const pings = await probe(parts.broker, 'pings');
    // the relay looks only every minute and is never woken: without draining, nothing would be sent
    const app = newApp({ broker: parts.broker, stores: withoutSignal(parts.stores) }, { relay: { idleMs: 60_000, batchSize: 7 } });
    await app.start({ groups: false });
    await new Promise((r) => setTimeout(r, 20)); // the relay's first round found nothing and sleeps
    for (let n = 0; n < 20; n++) await app.publish(Ping, { key: `k${n % 4}`, n });
    expect(pings).toEqual([]);
    await app.close({ deadlineMs: 5000 });
    await eventually(() => pings.length === 20, 'the 20 events on the broker');
    expect(await parts.stores.outbox.claim({ relayId: 'check', limit: 10, leaseMs: 1000 })).toEqual([]);
  });

  it('stops at once when close arrives while a round is publishing, however long its idle wait', async () => {
    const parts = engine();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let publishing!: () => void;
    const inFlight = new Promise<void>((resolve) => (publishing = resolve));
    const slowBroker: MemoryBroker = {
      ...parts.broker,
      async publish(records) {
        publishing();
        await gate;
        return parts.broker.publish(records);
      },
    };
    const app = newApp({ broker: slowBroker, stores: parts.stores }, { relay: { idleMs: 60_000 } });
    await app.start({ groups: false });
    await app.publish(Ping, { key: 'k', n: 1 });
    await inFlight;
    const closed = app.close({ deadlineMs: 5000 });
    release();
    // the round ends after the stop: the relay must not then sleep its idle minute
    const outcome = await Promise.race([closed.then(() => 'closed'), new Promise((r) => setTimeout(() => r('still sleeping'), 10_000))]);
    expect(outcome).toBe('closed');
  });

  it('publishes a record appended while a round runs at once, not after its idle time', async () => {
    const parts = engine();
    let publishing: () => void = () => {};
    const inFlight = new Promise<void>((resolve) => (publishing = resolve));
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    let rounds = 0;
    const slowBroker: MemoryBroker = {
      ...parts.broker,
      async publish(records) {
        // only the first round waits: the second record is appended while it does
        if (rounds++ === 0) {
          publishing();
          await gate;
        }
        return parts.broker.publish(records);
      },
    };
    const seen = await probe(parts.broker, 'pings');
    const app = newApp({ broker: slowBroker, stores: parts.stores }, { relay: { idleMs: 60_000 } });
    await app.start({ groups: false });
    await app.publish(Ping, { key: 'a', n: 1 });
    await inFlight;
    await app.publish(Ping, { key: 'b', n: 2 });
    release();
    // with the wake lost the second record would wait the relay's idle minute
    await eventually(() => seen.length === 2, 'both records on the broker', 5_000);
    expect(seen.map((d) => d.key).sort()).toEqual(['a', 'b']);
  });

  it('reports each handled event with its identity and position', async () => {
    const app = newApp();
    const handled: InstrumentationEvent[] = [];
    app.instrumentation.on((e) => e.kind === 'handled' && handled.push(e));
    app.on(Ping, { group: 'g' }, async () => {});
    await app.start();
    const sent = await app.publish(Ping, { key: 'k', n: 7 });
    await eventually(() => handled.length === 1, 'one handled fact');
    expect(handled[0]).toMatchObject({ kind: 'handled', group: 'g', handler: 'g:Ping', eventId: sent.id, eventType: 'Ping', topic: 'pings', offset: 0, outcome: 'applied', attempts: 1 });
    expect(handled[0]).toHaveProperty('partition', expect.any(Number));
  });

  it('close() during start() waits for the component starting, closes it, and start() starts nothing more and rejects with closed', async () => {
    const log: string[] = [];
    const app = newApp(loggedEngine(log));
    const slow = slowToStart('a', log);
    app.use(slow.component).use(recorder('b', log));
    const startFailure = app.start(onlyAdded).catch((error: unknown) => error);
    await slow.beginning;
    const closed = app.close({ deadlineMs: 5000 });
    log.push('close called');
    slow.release();
    await closed;
    log.push('close resolved');
    expect(await startFailure).toMatchObject({ code: 'closed' });
    expect(log).toEqual(['start a', 'close called', 'started a', 'close a (with time left)', 'broker closed', 'stores closed', 'close resolved']);
  });

  it('a start that outlives the close deadline closes what it finishes itself, and starts nothing more', async () => {
    const log: string[] = [];
    const app = newApp(loggedEngine(log));
    const slow = slowToStart('a', log);
    app.use(slow.component).use(recorder('b', log));
    const startFailure = app.start(onlyAdded).catch((error: unknown) => error);
    await slow.beginning;
    await app.close({ deadlineMs: 0 });
    log.push('close resolved');
    slow.release();
    expect(await startFailure).toMatchObject({ code: 'closed' });
    expect(log).toEqual(['start a', 'broker closed', 'stores closed', 'close resolved', 'started a', 'close a (no time)']);
  });

  it('closes at once, starting nothing, when started with a signal already aborted', async () => {
    const log: string[] = [];
    const app = newApp(loggedEngine(log));
    app.use(recorder('a', log));
    await expect(app.start({ signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'closed' });
    await app.close();
    expect(log).toEqual(['broker closed', 'stores closed']);
  });

  it('closes the stores when the broker fails to close, and logs a close on the abort signal that fails', async () => {
    const log: string[] = [];
    const parts = loggedEngine(log);
    const broker: MemoryBroker = { ...parts.broker, close: async () => (log.push('broker failed to close'), Promise.reject(new Error('broker gone'))) };
    const errors: string[] = [];
    const logger = { ...silentLogger, error: (message: string) => void errors.push(message), child: () => logger };
    const app = newApp({ broker, stores: parts.stores }, { logger });
    const stop = new AbortController();
    await app.start({ groups: false, signal: stop.signal });
    stop.abort();
    // the same close the signal began: nobody else awaits that one, so it is logged, not left unhandled
    await expect(app.close()).rejects.toThrow('broker gone');
    expect(log).toEqual(['broker failed to close', 'stores closed']);
    expect(errors).toEqual(['herald app failed to close']);
  });

  it('closes the rest past a component whose close throws at once or returns nothing (plain JavaScript)', async () => {
    const log: string[] = [];
    const errors: unknown[] = [];
    const logger = { ...silentLogger, error: (_message: string, fields?: Record<string, unknown>) => void errors.push(fields?.['component']), child: () => logger };
    const app = newApp(loggedEngine(log), { logger });
    app.use({ name: 'returns-nothing', start: async () => {}, close: (() => void log.push('close returns-nothing')) as unknown as Component['close'] });
    app.use({ name: 'throws', start: async () => {}, close: () => { throw new Error('close failed at once'); } });
    await app.start(onlyAdded);
    await app.close({ deadlineMs: 1000 });
    expect(log).toEqual(['close returns-nothing', 'broker closed', 'stores closed']);
    expect(errors).toEqual(['throws']);
  });

  it('closes the rest when a component overruns its close deadline, and says which one', async () => {
    const log: string[] = [];
    const errors: { message: string; component?: unknown }[] = [];
    const logger = { ...silentLogger, error: (message: string, fields?: Record<string, unknown>) => void errors.push({ message, component: fields?.['component'] }), child: () => logger };
    const app = newApp(loggedEngine(log), { logger });
    app.use(recorder('a', log));
    app.use({ name: 'stuck', start: async () => {}, close: () => new Promise(() => {}) });
    await app.start(onlyAdded);
    const began = Date.now();
    await app.close({ deadlineMs: 200 });
    expect(Date.now() - began, 'closed by the deadline and a second of grace').toBeLessThan(2_500);
    expect(log).toEqual(['start a', 'close a (no time)', 'broker closed', 'stores closed']);
    expect(errors).toEqual([{ message: 'component did not close within its deadline; closing the rest without it', component: 'stuck' }]);
  });
});
