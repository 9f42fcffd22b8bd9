import { createApp, defineEvent, HeraldError, silentLogger } from '@herald/core';
import type { App, Broker, Clock, Logger } from '@herald/core';
import { memoryBroker, memoryStores, type MemoryStores, type MemoryTx } from '@herald/testing';
import { Type } from '@sinclair/typebox';

export const OrderPlaced = defineEvent({
  type: 'OrderPlaced',
  topic: 'orders',
  key: (d) => d.orderId,
  schema: Type.Object({ orderId: Type.String() }),
});

export const OrderBilled = defineEvent({
  type: 'OrderBilled',
  topic: 'invoices',
  key: (d) => d.orderId,
  schema: Type.Object({ orderId: Type.String() }),
});

/** Order ids the billing handler treats specially. */
export const FLAKY = 'flaky';
export const POISON = 'poison';

export interface TestApp {
  readonly app: App<MemoryTx>;
  readonly stores: MemoryStores;
  /** How many `handled` facts the app emitted so far. */
  handled(): number;
  /** Resolves once `count` deliveries were handled in all. */
  untilHandled(count: number): Promise<void>;
}

/**
 * A Herald app on the in-memory engine: `billing` handles OrderPlaced, publishing OrderBilled
 * (its first attempt for {@link FLAKY} fails retriably; {@link POISON} always fails for good, and
 * succeeds once `healed` is set); `audit` handles OrderBilled. The relay's first publish is dropped by
 * chaos (a scripted random), then none.
 */
export function testApp(options: { broker?: Broker; clock?: Clock; logger?: Logger; relay?: false; healed?: { value: boolean } } = {}): TestApp {
  const stores = memoryStores(options.clock ? { clock: options.clock } : {});
  const script = [0];
  const app = createApp<MemoryTx>({
    name: 'metrics-test',
    broker: options.broker ?? memoryBroker(),
    stores,
    logger: options.logger ?? silentLogger,
    events: [OrderPlaced, OrderBilled],
    ...(options.clock ? { clock: options.clock } : {}),
    handlerDefaults: { retry: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 5 } },
    // no handler here schedules an event; a scheduler would be one more sleeper on a manual clock
    timers: false,
    relay: options.relay === false ? false : { idleMs: 5, backoff: { initialDelayMs: 1, maxDelayMs: 5 }, chaos: { failRate: 0.5, random: () => script.shift() ?? 0.99 } },
  });
  const attempts = new Map<string, number>();
  app.on(OrderPlaced, { group: 'billing' }, async (event, ctx) => {
    const { orderId } = event.data;
    const attempt = (attempts.get(orderId) ?? 0) + 1;
    attempts.set(orderId, attempt);
    if (orderId === FLAKY && attempt === 1) throw new Error('payment service busy');
    if (orderId === POISON && !options.healed?.value) throw new HeraldError('card-rejected', 'the card was rejected', { retriable: false });
    await ctx.publish(OrderBilled, { orderId });
  });
  app.on(OrderBilled, { group: 'audit' }, async () => {});

  let handled = 0;
  const waiters: { count: number; resolve: () => void }[] = [];
  app.instrumentation.on((fact) => {
    if (fact.kind !== 'handled') return;
    handled++;
    for (const waiter of waiters.filter((w) => w.count <= handled)) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
  });
  return {
    app,
    stores,
    handled: () => handled,
    untilHandled: (count) => (count <= handled ? Promise.resolve() : new Promise((resolve) => waiters.push({ count, resolve }))),
  };
}

/** Polls `check` until it returns true, or fails after `timeoutMs` with `what`. */
export async function eventually(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
