import { partitionForKey } from '@herald/core';
import { expect } from 'vitest';
import { counts, effectId, type PipelineFixture } from './fixture.js';

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** 12 keys × 10 events published concurrently (each key in order); handlers finish out of order across keys. */
export async function handlesInKeyOrder<Tx>(f: PipelineFixture<Tx>): Promise<void> {
  const app = f.app();
  const seen = new Map<string, number[]>();
  let running = 0;
  let maxRunning = 0;
  app.on(f.Step, { group: f.group('orders') }, async (event, ctx) => {
    maxRunning = Math.max(maxRunning, ++running);
    try {
      await tick(Math.random() * 3);
      await f.harness.writeEffect(ctx.tx, effectId(event.data));
      seen.set(event.data.orderId, [...(seen.get(event.data.orderId) ?? []), event.data.seq]);
    } finally {
      running--;
    }
  });
  await app.start();
  const keys = range(12).map((i) => `order-${i}`);
  await Promise.all(keys.map(async (orderId) => {
    for (const seq of range(10)) await app.publish(f.Step, { orderId, seq });
  }));

  await f.waitFor('120 effects', async () => (await f.effects()).length >= 120);
  const effects = counts(await f.effects());
  for (const orderId of keys) {
    expect(seen.get(orderId), `handling order of ${orderId}`).toEqual(range(10));
    for (const seq of range(10)) expect(effects.get(`${orderId}:${seq}`), `effect ${orderId}:${seq}`).toBe(1);
  }
  expect(maxRunning, 'different keys ran concurrently').toBeGreaterThan(1);
}

/**
 * The first app applies 30 events but every offset commit is lost (a crash after the effects'
 * transactions, before the commit); a second app of the same group gets all 30 again and its
 * inbox absorbs them: each effect exists once.
 */
export async function survivesLostCommits<Tx>(f: PipelineFixture<Tx>): Promise<void> {
  const group = f.group('ledger');
  const handler = async (event: { data: { orderId: string; seq: number } }, ctx: { tx: Tx }) => f.harness.writeEffect(ctx.tx, effectId(event.data));
  const first = f.app({ dropCommits: true }).on(f.Step, { group }, handler);
  await first.start();
  for (const seq of range(30)) await first.publish(f.Step, { orderId: `order-${seq % 5}`, seq });
  await f.waitFor('30 effects from the first app', async () => (await f.effects()).length >= 30);
  await f.within('closing the first app', first.close());

  const second = f.app().on(f.Step, { group }, handler);
  const events = f.record(second);
  const outcomes = () => events.flatMap((e) => (e.kind === 'handled' ? [e.outcome] : []));
  await second.start();
  await f.waitFor('the 30 events redelivered to the second app', () => outcomes().length >= 30);
  expect(outcomes(), 'every redelivered event recognised by the inbox').toEqual(range(30).map(() => 'duplicate'));
  const effects = counts(await f.effects());
  expect(effects.size).toBe(30);
  expect([...effects.values()].every((n) => n === 1), 'no effect applied twice').toBe(true);
}

/**
 * One event per partition is waiting when the app starts; every handler blocks until the test
 * opens a gate. close() is called while at least one runs: it waits for them, their effects
 * commit, and so do their offsets. Per partition, the group's next reader gets the event again
 * exactly when its effect is absent (it never started, so it was not committed): nothing applied
 * is redelivered, nothing unapplied is lost. (Engines that serialise transactions may run only
 * one of the handlers before close.)
 */
export async function drainsOnClose<Tx>(f: PipelineFixture<Tx>): Promise<void> {
  const group = f.group('drain');
  const keys = range(f.partitions).map((p) => keyIn(p, f.partitions, 'order'));
  const started: string[] = [];
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const app = f.app().on(f.Step, { group }, async (event, ctx) => {
    started.push(event.data.orderId);
    await gate;
    await f.harness.writeEffect(ctx.tx, effectId(event.data));
  });
  try {
    for (const orderId of keys) await app.publish(f.Step, { orderId, seq: 0 });
    await app.start();
    await f.waitFor('a handler in flight', () => started.length > 0);
    await tick(20); // let the other partitions' handlers start where the engine allows it

    let closed = false;
    const closing = app.close({ deadlineMs: 30_000 }).then(() => (closed = true));
    await tick(50);
    expect(closed, 'close() waits for running handlers').toBe(false);
    open();
    await f.within('close() draining the handlers in flight', closing);
  } finally {
    open();
  }
  const effects = await f.effects();
  for (const orderId of started) expect(effects, `the effect of ${orderId}, drained at close`).toContain(`${orderId}:0`);

  const probe = await f.probe(group);
  const markers = range(f.partitions).map((p) => ({ topic: f.topic, key: keyIn(p, f.partitions, 'marker'), value: 'marker' }));
  await f.harness.broker.publish(markers);
  await f.waitFor('a marker in every partition', () => probe.filter((d) => d.value === 'marker').length >= f.partitions);
  for (const [p, orderId] of keys.entries()) {
    const before = probe.filter((d) => d.partition === p && d.value !== 'marker').map((d) => d.key);
    const applied = effects.includes(`${orderId}:0`);
    expect(before, `partition ${p}: ${applied ? 'applied, so committed' : 'not applied, so redelivered'}`).toEqual(applied ? [] : [orderId]);
  }
}

/** The first key `prefix-<i>` that lands in `partition`. */
function keyIn(partition: number, partitions: number, prefix: string): string {
  for (let i = 0; ; i++) if (partitionForKey(`${prefix}-${i}`, partitions) === partition) return `${prefix}-${i}`;
}

/**
 * A handler's first attempt writes an effect, then hangs ignoring its signal: at its timeout the
 * attempt's transaction rolls back at once (not when the handler returns), so the retry gets the
 * inbox mark and the key goes on; the abandoned attempt's writes, before and after the timeout,
 * never commit (its late write is refused), and another key flows meanwhile.
 */
export async function abandonsTimedOutAttempts<Tx>(f: PipelineFixture<Tx>): Promise<void> {
  const app = f.app();
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let attempts = 0;
  let lateWrite: Promise<unknown> | undefined;
  app.on(f.Step, { group: f.group('abandon'), timeoutMs: 300, retry: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 5 } }, async (event, ctx) => {
    if (event.data.orderId === 'hung' && ++attempts === 1) {
      await f.harness.writeEffect(ctx.tx, 'hung:abandoned');
      await released; // ignores ctx.signal
      lateWrite = f.harness.writeEffect(ctx.tx, 'hung:late').then(() => 'written', (error: unknown) => error);
      return;
    }
    await f.harness.writeEffect(ctx.tx, effectId(event.data));
  });
  await app.start();
  await app.publish(f.Step, { orderId: 'hung', seq: 0 });
  await app.publish(f.Step, { orderId: 'other', seq: 0 });
  await f.waitFor('the retry of the hung event and the other key applied', async () => {
    const effects = await f.effects();
    return effects.includes('hung:0') && effects.includes('other:0');
  });
  expect(attempts, 'the hung event was retried while its first attempt still ran').toBe(2);
  release();
  await f.waitFor('the abandoned attempt to try its late write', () => lateWrite !== undefined);
  const late = await lateWrite!;
  expect(late, 'a write after the timeout is refused').toBeInstanceOf(Error);
  expect([...(await f.effects())].sort()).toEqual(['hung:0', 'other:0']);
}

/**
 * A handler hangs ignoring its signal, its timeout far off: `close({ deadlineMs })` ends by the
 * deadline (past it the attempt is abandoned and its transaction rolled back, not left open), and
 * the next app of the group gets the event again and applies it at once (no lock of the abandoned
 * attempt left to wait on); nothing the abandoned attempt wrote commits.
 */
export async function closesPastHungHandlers<Tx>(f: PipelineFixture<Tx>): Promise<void> {
  const group = f.group('hung-close');
  let started = false;
  const first = f.app().on(f.Step, { group, timeoutMs: 600_000 }, async (event, ctx) => {
    await f.harness.writeEffect(ctx.tx, 'hung:abandoned');
    started = true;
    await new Promise(() => {}); // ignores ctx.signal
  });
  await first.publish(f.Step, { orderId: 'hung', seq: 0 });
  await first.start();
  await f.waitFor('the handler to hang', () => started);
  const began = Date.now();
  await f.within('close() by its deadline', first.close({ deadlineMs: 300 }));
  expect(Date.now() - began, 'close() ended by its deadline (and a second of grace)').toBeLessThan(3_000);

  const second = f.app().on(f.Step, { group }, async (event, ctx) => f.harness.writeEffect(ctx.tx, effectId(event.data)));
  await second.start();
  await f.waitFor('the event applied by the next app', async () => (await f.effects()).includes('hung:0'));
  expect([...(await f.effects())].sort()).toEqual(['hung:0']);
}
