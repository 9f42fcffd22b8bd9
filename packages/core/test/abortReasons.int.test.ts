import { afterEach, describe, expect, it } from 'vitest';
import { apps, closeApps, memberApp, newApp, Step } from './appFixture.js';
import { eventually } from './support.js';
import { ErrorCodes, isHeraldError, partitionForKey } from '@herald/core';
import { memoryBroker, memoryStores } from '@herald/testing';

// What a handler or a policy finds as the reason of the consumer's signals (`ctx.signal` past the
// close deadline, `ctx.state.closing` on a close or a revoke) is checked by its code, as every error.

afterEach(closeApps);

/** A reason as a test compares it: its code, or its message when it has none. */
const described = (reason: unknown) => (isHeraldError(reason) ? { code: reason.code } : { message: String((reason as Error | undefined)?.message ?? reason) });

/** Resolves with the signal's reason once it aborts. */
const reasonOf = (signal: AbortSignal) => new Promise<unknown>((resolve) => (signal.aborted ? resolve(signal.reason) : signal.addEventListener('abort', () => resolve(signal.reason), { once: true })));

describe("the reasons of the consumer's signals", () => {
  it('are closed errors when the app closes: the closing of a delivery, and a handler abandoned past the deadline', async () => {
    const { app } = newApp();
    const seen: { closing?: unknown; signal?: unknown } = {};
    let running = false;
    app.on(Step, { group: 'worker' }, async (_event, ctx) => {
      running = true;
      seen.closing = await reasonOf(ctx.state.closing);
      seen.signal = await reasonOf(ctx.signal);
    });
    await app.start();
    await app.publish(Step, { key: 'k', seq: 1 });
    await eventually(() => running, 'the handler running');
    apps.splice(apps.indexOf(app), 1);
    await app.close({ deadlineMs: 20 });
    await eventually(() => seen.signal !== undefined, 'the handler told it is abandoned');
    expect(described(seen.closing)).toEqual({ code: ErrorCodes.closed });
    expect(described(seen.signal)).toEqual({ code: ErrorCodes.closed });
  });

  it("is a closed error when the delivery's partition is revoked", async () => {
    const broker = memoryBroker({ partitions: 2 });
    const stores = memoryStores();
    const key = ['a', 'b', 'c', 'd'].find((k) => partitionForKey(k, 2) === 1)!;
    let closing: unknown;
    let running = false;
    const first = memberApp({ broker: broker.connect(), stores });
    first.on(Step, { group: 'worker' }, async (_event, ctx) => {
      running = true;
      closing = await reasonOf(ctx.state.closing);
    });
    await first.start();
    await first.publishDirect(Step, { key, seq: 1 });
    await eventually(() => running, 'the handler running');
    // a second member takes partition 1 away from the first
    const second = memberApp({ broker: broker.connect(), stores });
    second.on(Step, { group: 'worker' }, async () => {});
    await second.start();
    await eventually(() => closing !== undefined, 'the revoke told to the running delivery');
    expect(described(closing)).toEqual({ code: ErrorCodes.closed });
  });
});
