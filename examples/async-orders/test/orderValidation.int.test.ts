import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uuidv7, type Envelope, type InstrumentationEvent } from '@herald/core';
import type { Static } from '@sinclair/typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { GROUPS, OrderCreated, OrderCreationRequested, OrderStatusUpdated } from '../src/events.js';
import { createAsyncOrders, type AsyncOrders } from '../src/system.js';
import { Customer, eventually, orderBody, problemCode } from './support/client.js';
import { inProcessEnv } from './support/processes.js';

// Seed 004, step 5: the order service validates each OrderCreationRequested itself, whoever
// published it (another producer, an older release, a redriven dead letter), not only what the
// gateway let through. Events go straight onto orders.requests, past the gateway, on the embedded
// engine.

type OrderRequest = Static<typeof OrderCreationRequested.schema>;
type StatusData = Static<typeof OrderStatusUpdated.schema>;

const dirs: string[] = [];
const running: AsyncOrders[] = [];

async function create(extra: Record<string, string>, services?: string): Promise<AsyncOrders> {
  const dir = mkdtempSync(join(tmpdir(), 'herald-async-orders-validation-'));
  dirs.push(dir);
  const env = inProcessEnv(dir, { STARTING_BALANCE_CENTS: '10000', ...extra });
  const system = await createAsyncOrders(loadConfig(env, services ? ['--service', services] : []), env);
  running.push(system);
  return system;
}

afterAll(async () => {
  for (const system of running.reverse()) await system.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function rows<T>(system: AsyncOrders, sql: string, params: unknown[] = []): Promise<T[]> {
  return system.engine.stores.transaction((tx) => tx.query<T>(sql, params));
}

const ITEM = { sku: 'book', quantity: 1, priceCents: 1_000 };

describe('the order service validates each OrderCreationRequested', () => {
  let shop: AsyncOrders;
  let url: string;
  /** Every OrderStatusUpdated and OrderCreated, by request id, as a consumer of their topics sees them. */
  const statuses = new Map<string, Envelope<StatusData>[]>();
  const created = new Set<string>();
  /** Every delivery handled, by any group. */
  const handled: Extract<InstrumentationEvent, { kind: 'handled' }>[] = [];

  beforeAll(async () => {
    shop = await create({ HERALD_INSTANCE_ID: 'validation-test' });
    shop.app.on(OrderStatusUpdated, { group: 'test-observer' }, async (event) => void statuses.set(event.data.requestId, [...(statuses.get(event.data.requestId) ?? []), event]));
    shop.app.on(OrderCreated, { group: 'test-observer' }, async (event) => void created.add(event.data.requestId));
    shop.app.instrumentation.on((fact) => {
      if (fact.kind === 'handled') handled.push(fact);
    });
    url = (await shop.start()).url!;
  }, 60_000);

  /** Publishes an order request past the gateway, as another producer would. */
  async function request(data: Partial<OrderRequest> & { username: string }): Promise<OrderRequest> {
    const requestId = uuidv7();
    const full = { requestId, items: [ITEM], deliveryAddress: '1 Main Street', paymentMethod: 'balance', createdAt: Date.now(), ...data };
    await shop.app.publish(OrderCreationRequested, full, { correlationId: requestId });
    return full;
  }

  const statusOf = (requestId: string) => eventually(async () => statuses.get(requestId)?.[0], 15_000, `the status of ${requestId}`);
  const handling = (eventId: string, group: string) => eventually(async () => handled.find((fact) => fact.eventId === eventId && fact.group === group), 10_000, `${group} to handle ${eventId}`);

  it('ends a request that breaks the order rules REJECTED with its reasons, publishes its status at once, and billing never sees it', async () => {
    const gina = await new Customer(url, 'gina').signUp();
    await eventually(async () => ((await gina.get('/billing/balance')).status === 200 ? true : undefined), 10_000, 'gina’s account');
    const cases: [string, Partial<OrderRequest>, number, string[]][] = [
      ['a payment method of an older release', { paymentMethod: 'card' }, 1_000, ['/paymentMethod']],
      ['a blank address', { deliveryAddress: ' \n ' }, 1_000, ['/deliveryAddress']],
      ['a blank sku and an address too long', { items: [{ ...ITEM, sku: '\t' }], deliveryAddress: 'x'.repeat(501) }, 1_000, ['/items/0/sku', '/deliveryAddress']],
      ['a total over the limit', { items: [{ sku: 'gold', quantity: 1_000, priceCents: 100_000_000 }, ITEM] }, 100_000_001_000, ['/items']],
    ];
    const rejected = [];
    for (const [, data] of cases) rejected.push(await request({ username: 'gina', ...data }));
    // behind them in gina's partition: once it is paid, the order service handled them all
    const valid = await request({ username: 'gina' });
    expect((await statusOf(valid.requestId)).data.status).toBe('PAID');

    for (const [i, [name, , totalCents, paths]] of cases.entries()) {
      const { requestId } = rejected[i]!;
      const status = await statusOf(requestId);
      expect(status.correlationId, name).toBe(requestId);
      expect(status.data, name).toMatchObject({ requestId, username: 'gina', status: 'REJECTED', previousStatus: 'REQUESTED', totalCents, metadata: { reason: 'INVALID_ORDER' } });
      const errors = status.data.metadata['errors'] as { path: string; message: string }[];
      expect(errors.map((e) => e.path), name).toEqual(paths);
      const [order] = await rows<{ order_id: string; status: string; reason: string; errors: string }>(
        shop,
        'SELECT o.order_id, o.status, j.reason, j.errors FROM orders o JOIN order_rejections j ON j.order_id = o.order_id WHERE o.request_id = $1',
        [requestId],
      );
      expect(order, name).toEqual({ order_id: status.data.orderId, status: 'REJECTED', reason: 'INVALID_ORDER', errors: JSON.stringify(errors) });
      expect(created.has(requestId), `${name}: no OrderCreated`).toBe(false);
    }
    // billing paid the valid order only, and took nothing else
    await eventually(async () => (created.has(valid.requestId) ? true : undefined), 10_000, 'the valid order’s OrderCreated');
    const payments = await rows<{ request_id: string; amount_cents: number }>(shop, "SELECT request_id, amount_cents FROM billing_payments WHERE username = 'gina'");
    expect(payments).toEqual([{ request_id: valid.requestId, amount_cents: 1_000 }]);
    expect((await gina.get('/billing/balance')).body).toEqual({ balanceCents: 9_000 });
    // and gina is told about each order: nothing was charged for the rejected ones
    const notifications = await eventually(async () => {
      const list = ((await gina.get('/notifications')).body as { notifications: { type: string; orderId: string | null }[] }).notifications;
      return list.length === cases.length + 2 ? list : undefined;
    }, 15_000, 'gina’s notifications');
    expect(notifications.filter((n) => n.type === 'ORDER_REJECTED').map((n) => n.orderId).sort()).toEqual(rejected.map((r) => statuses.get(r.requestId)![0]!.data.orderId).sort());
  });

  it('changes nothing when a request comes again (a redrive, another event id): one order, one status, no charge', async () => {
    const first = await request({ username: 'gina', paymentMethod: 'card' });
    const { orderId } = (await statusOf(first.requestId)).data;
    const again = await shop.app.publish(OrderCreationRequested, first, { correlationId: first.requestId });
    const redelivery = await handling(again.id, GROUPS.order);
    expect([redelivery.outcome, redelivery.attempts]).toEqual(['applied', 1]);
    const after = await request({ username: 'gina' });
    expect((await statusOf(after.requestId)).data.status).toBe('PAID');
    expect(statuses.get(first.requestId)!.map((s) => s.data.orderId)).toEqual([orderId]);
    expect(await rows(shop, 'SELECT order_id, status FROM orders WHERE request_id = $1', [first.requestId])).toEqual([{ order_id: orderId, status: 'REJECTED' }]);
    expect(await rows(shop, "SELECT order_id FROM billing_payments WHERE order_id = $1", [orderId])).toEqual([]);
  });

  it('rejects an order without an owner, and the notification service asks nobody and tells nobody', async () => {
    const ownerless = await request({ username: '  ' });
    const status = await statusOf(ownerless.requestId);
    expect(status.data).toMatchObject({ status: 'REJECTED', metadata: { errors: [{ path: '/username', message: expect.any(String) }] } });
    const notification = await handling(status.id, GROUPS.notification);
    expect([notification.outcome, notification.attempts]).toEqual(['applied', 1]);
    expect(await rows(shop, 'SELECT notification_id FROM notifications WHERE order_id = $1', [status.data.orderId])).toEqual([]);
  });
});

describe('the gateway, when the order service rejects an order it let through (a newer order service with stricter rules)', () => {
  it('answers the held POST /orders with a 422 problem order-rejected, the same to the key again, and shows the reasons', async () => {
    // no order service here: the test plays a newer one, whose rules refuse what this gateway takes
    const front = await create({ HERALD_INSTANCE_ID: 'validation-front-test', ORDER_WAIT_MS: '20000' }, 'gateway,auth,billing,user,notification,sender');
    const url = (await front.start()).url!;
    const hal = await new Customer(url, 'hal').signUp();
    const held = hal.order(orderBody(2_500), 'hal-1');
    const [pending] = await eventually(async () => {
      const found = await rows<{ request_id: string }>(front, "SELECT request_id FROM gateway_order_requests WHERE username = 'hal'");
      return found.length > 0 ? found : undefined;
    }, 10_000, 'the request');
    const requestId = pending!.request_id;
    const errors = [{ path: '/deliveryAddress', message: 'no delivery to this address' }];
    await front.app.publish(
      OrderStatusUpdated,
      { requestId, orderId: 'o-hal', username: 'hal', status: 'REJECTED', previousStatus: 'REQUESTED', totalCents: 2_500, updatedAt: Date.now(), metadata: { reason: 'INVALID_ORDER', errors } },
      { correlationId: requestId },
    );

    const answer = await held;
    expect({ status: answer.status, contentType: answer.contentType, code: problemCode(answer) }).toEqual({ status: 422, contentType: 'application/problem+json', code: 'order-rejected' });
    expect(answer.body).toMatchObject({ status: 422, instance: `/requests/${requestId}`, requestId, orderId: 'o-hal', errors, detail: expect.stringContaining('no delivery to this address') });
    const again = await hal.order(orderBody(2_500), 'hal-1');
    expect({ status: again.status, contentType: again.contentType, body: again.body, replayed: again.replayed }).toEqual({
      status: 422,
      contentType: 'application/problem+json',
      body: answer.body,
      replayed: true,
    });
    expect((await hal.get(`/requests/${requestId}`)).body).toEqual({
      requestId,
      orderId: 'o-hal',
      status: 'REJECTED',
      totalCents: 2_500,
      errors,
      history: [
        { status: 'PENDING', at: expect.any(Number) },
        { status: 'REJECTED', at: expect.any(Number) },
      ],
    });
    expect((await hal.get('/billing/balance')).body).toEqual({ balanceCents: 10_000 });
  });
});
