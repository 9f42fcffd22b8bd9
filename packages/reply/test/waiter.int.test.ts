import { createApp, defineEvent, type App, type EventDefinition, type Logger } from '@herald/core';
import { memoryBroker, memoryStores, type MemoryTx } from '@herald/testing';
import { Type } from '@sinclair/typebox';
import { afterEach, describe, expect, it } from 'vitest';
import { createEventWaiter, type EventWaiter } from '../src/index.js';

// The event waiter's own contract on the in-memory engine.

/** One partition key for every event: they share a partition, so a stuck event would hold the others. */
const OrderDecided = defineEvent({
  type: 'OrderDecided',
  topic: 'orders.status',
  key: () => 'orders',
  schema: Type.Object({ requestId: Type.String(), status: Type.String() }),
});

interface Line {
  readonly level: string;
  readonly message: string;
  readonly fields: Record<string, unknown> | undefined;
}

/** A logger that keeps what is logged. */
function capturingLogger(lines: Line[]): Logger {
  const at = (level: string) => (message: string, fields?: Record<string, unknown>) => void lines.push({ level, message, fields });
  const logger: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: () => logger };
  return logger;
}

let open: App<MemoryTx>[] = [];
afterEach(async () => {
  await Promise.all(open.map((app) => app.close()));
  open = [];
});

async function setup(lines: Line[] = [], events: EventDefinition[] = [OrderDecided]): Promise<{ app: App<MemoryTx>; waiter: EventWaiter }> {
  const app = createApp<MemoryTx>({ broker: memoryBroker(), stores: memoryStores(), logger: capturingLogger(lines), relay: { idleMs: 5 } });
  open.push(app);
  const waiter = createEventWaiter({ app, events, instanceId: 'gateway-1' });
  app.use(waiter);
  await app.start();
  await app.ready();
  return { app, waiter };
}

/** `work`'s value, or 'stuck' when it takes longer than `ms`. */
async function within<T>(ms: number, work: Promise<T>): Promise<T | 'stuck'> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([work, new Promise<'stuck'>((resolve) => (timer = setTimeout(() => resolve('stuck'), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

const decide = (app: App<MemoryTx>, requestId: string, status: string) => app.publish(OrderDecided, { requestId, status }, { correlationId: requestId });

describe('event waiter', () => {
  it('ends a wait whose until throws with undefined, logs it, and keeps serving the partition\'s other waits', async () => {
    const lines: Line[] = [];
    const { app, waiter } = await setup(lines);
    const broken = waiter.expect('order-1', {
      timeoutMs: 30_000,
      until: () => {
        throw new Error('bug in until');
      },
    });
    const sameEvent = waiter.expect('order-1', { timeoutMs: 30_000 });
    const later = waiter.expect('order-2', { timeoutMs: 30_000 });
    await decide(app, 'order-1', 'PAID');
    await decide(app, 'order-2', 'DECLINED');
    // before the fix the batch failed and was redelivered forever: none of these settled before their timeout
    const settled = await within(10_000, Promise.all([broken.result, sameEvent.result, later.result]));
    expect(settled).not.toBe('stuck');
    const [fromBroken, fromSame, fromLater] = settled as Awaited<typeof broken.result>[];
    expect(fromBroken).toBeUndefined();
    expect(fromSame?.data).toEqual({ requestId: 'order-1', status: 'PAID' });
    expect(fromLater?.data).toEqual({ requestId: 'order-2', status: 'DECLINED' });
    expect(waiter.pending).toBe(0);
    const errors = lines.filter((line) => line.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]!.fields).toMatchObject({ waiter: 'gateway-1', correlationId: 'order-1', eventType: 'OrderDecided', error: expect.objectContaining({ message: 'bug in until' }) });
  });

  it('gives a wait an event of an earlier version upcast to its definition; one it cannot read ends no wait and is logged', async () => {
    const OrderDecidedV2 = defineEvent({
      type: 'OrderDecided',
      version: 2,
      topic: 'orders.status',
      key: () => 'orders',
      schema: Type.Object({ requestId: Type.String(), status: Type.String(), reason: Type.Union([Type.String(), Type.Null()]) }),
      upcast: { from: OrderDecided, data: (v1) => ({ ...v1, reason: null }) },
    });
    const V3 = defineEvent({ type: 'OrderDecided', version: 3, topic: 'orders.status', key: () => 'orders', schema: Type.Object({ requestId: Type.String() }) });
    expect(() => createEventWaiter({ app: createApp<MemoryTx>({ broker: memoryBroker(), stores: memoryStores() }), events: [OrderDecided, OrderDecidedV2] })).toThrow(
      expect.objectContaining({ code: 'invalid-options', message: expect.stringContaining('lists OrderDecided twice (versions 1 and 2)') }),
    );
    const lines: Line[] = [];
    const { app, waiter } = await setup(lines, [OrderDecidedV2]);
    const old = waiter.expect('order-5', { timeoutMs: 30_000 });
    const newer = waiter.expect('order-6', { timeoutMs: 30_000 });
    const after = waiter.expect('order-7', { timeoutMs: 30_000 });
    await decide(app, 'order-5', 'PAID'); // a producer not yet upgraded: version 1
    await app.publish(V3, { requestId: 'order-6' }, { correlationId: 'order-6' });
    await app.publish(OrderDecidedV2, { requestId: 'order-7', status: 'DECLINED', reason: 'no funds' }, { correlationId: 'order-7' });
    expect(await old.result).toMatchObject({ version: 2, data: { requestId: 'order-5', status: 'PAID', reason: null } });
    expect(await after.result).toMatchObject({ version: 2, data: { requestId: 'order-7', status: 'DECLINED', reason: 'no funds' } });
    expect(waiter.pending).toBe(1); // order-6's version 3 ended nothing
    newer.cancel();
    expect(lines.filter((line) => line.level === 'warn').map((line) => [line.message, (line.fields?.['error'] as Error).message])).toEqual([
      ['event waiter: an awaited event cannot be read as its definition; it ends no wait', expect.stringContaining('version 3 of OrderDecided is newer than this consumer reads (version 2)')],
    ]);
  });

  it('refuses a timeout a timer cannot wait (over 2^31 - 1 ms fires at once), naming the option', async () => {
    const { waiter } = await setup();
    for (const timeoutMs of [2 ** 31, Number.MAX_SAFE_INTEGER, 0, Number.POSITIVE_INFINITY]) {
      expect(() => waiter.expect('order-3', { timeoutMs })).toThrow(expect.objectContaining({ code: 'invalid-options', message: expect.stringContaining('timeoutMs') }));
    }
    const longest = waiter.expect('order-3', { timeoutMs: 2 ** 31 - 1 });
    expect(waiter.pending).toBe(1);
    longest.cancel();
    expect(await longest.result).toBeUndefined();
  });
});

