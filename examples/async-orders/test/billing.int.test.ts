import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uuidv7, type App, type EventDefinition, type SqlTx } from '@herald/core';
import type { Static, TSchema } from '@sinclair/typebox';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { GROUPS, OrderCreated, PaymentProcessed, RefundRequested } from '../src/events.js';
import { createAsyncOrders, type AsyncOrders } from '../src/system.js';
import { Customer, eventually, orderBody, type Answer } from './support/client.js';
import { inProcessEnv } from './support/processes.js';

// Seed 004's billing and the orders the saga gave up: services in this process on one embedded
// data directory, billing started late as after an outage; and billing's refunds on their own.

const dirs: string[] = [];
const running: AsyncOrders[] = [];

function environment(extra: Record<string, string> = {}): Record<string, string> {
  const dir = mkdtempSync(join(tmpdir(), 'herald-async-orders-billing-'));
  dirs.push(dir);
  return inProcessEnv(dir, { STARTING_BALANCE_CENTS: '10500', ...extra });
}

async function create(env: Record<string, string>, services: string): Promise<AsyncOrders> {
  const system = await createAsyncOrders(loadConfig(env, ['--service', services]), env);
  running.push(system);
  return system;
}

afterAll(async () => {
  for (const system of running.reverse()) await system.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Publishes an event with a known id and resolves once `group` handled it (the listener is on before the publish). */
async function publishHandled<S extends TSchema>(app: App<SqlTx>, definition: EventDefinition<S>, data: Static<S>, group: string): Promise<void> {
  const id = uuidv7();
  const handled = new Promise<void>((resolve) => {
    const off = app.instrumentation.on((fact) => {
      if (fact.kind === 'handled' && fact.eventId === id && fact.group === group) resolve(off());
    });
  });
  await app.publish(definition, data, { id });
  await handled;
}

async function rows<T>(system: AsyncOrders, sql: string, params: unknown[] = []): Promise<T[]> {
  return system.engine.stores.transaction((tx) => tx.query<T>(sql, params));
}

async function balance(system: AsyncOrders, username: string): Promise<number> {
  const [row] = await rows<{ balance_cents: number }>(system, 'SELECT balance_cents FROM billing_accounts WHERE username = $1', [username]);
  return Number(row?.balance_cents);
}

async function finalState(customer: Customer, answer: Answer): Promise<{ requestId: string; orderId: string; status: string }> {
  expect(answer.status, answer.text).toBe(202);
  const { requestId } = answer.body as { requestId: string };
  return eventually(async () => {
    const state = (await customer.get(`/requests/${requestId}`)).body as { requestId: string; orderId: string; status: string };
    return state.status === 'PENDING' ? undefined : state;
  }, 20_000, `request ${requestId} final`);
}

describe('billing back after an outage', () => {
  // every service but billing; orders are answered 202 at once, and time out after 4 s
  const env = environment({ PAYMENT_TIMEOUT_MS: '4000', ORDER_WAIT_MS: '100', HERALD_INSTANCE_ID: 'billing-test' });
  let front: AsyncOrders;
  let url: string;

  it('ends an order PAYMENT_TIMEOUT when billing\'s PAYMENT_EXPIRED reaches the saga before its own deadline does', async () => {
    front = await create(env, 'gateway,auth,order,user,notification,sender');
    url = (await front.start()).url!;
    const bob = await new Customer(url, 'bob').signUp();
    const placed = await bob.order(orderBody(100), 'bob-1');
    expect(placed.status).toBe(202);
    const { requestId } = placed.body as { requestId: string };
    const [order] = await eventually(async () => {
      const found = await rows<{ order_id: string }>(front, 'SELECT order_id FROM orders WHERE request_id = $1', [requestId]);
      return found.length > 0 ? found : undefined;
    }, 10_000, 'the order');
    // billing's answer to an order past its payBy, here well before the saga's deadline
    const processedAt = Date.now();
    await front.app.publish(
      PaymentProcessed,
      { requestId, orderId: order!.order_id, username: 'bob', amountCents: 100, success: false, failureReason: 'PAYMENT_EXPIRED', processedAt },
      { correlationId: requestId },
    );
    const state = await eventually(async () => {
      const body = (await bob.get(`/requests/${requestId}`)).body as { status: string };
      return body.status === 'PENDING' ? undefined : body;
    }, 3_000, 'the order final before its deadline');
    expect(state.status).toBe('PAYMENT_TIMEOUT');
  });

  it('takes no money for an order past its payBy, so the next order is paid from what the user has (the reviewer\'s case)', async () => {
    const alice = await new Customer(url, 'alice').signUp();
    // billing is down: A waits for its payment and times out
    const a = await finalState(alice, await alice.order(orderBody(8_000), 'alice-a'));
    expect(a.status).toBe('PAYMENT_TIMEOUT');
    const billing = await create(env, 'billing');
    // B is placed, and billing comes back within B's deadline: it meets A (expired) first, then B
    const placedB = await alice.order(orderBody(8_000), 'alice-b');
    await billing.start();
    const b = await finalState(alice, placedB);
    expect(b.status).toBe('PAID');

    const payments = await rows<{ order_id: string; status: string; failure_reason: string | null }>(
      billing,
      "SELECT order_id, status, failure_reason FROM billing_payments WHERE username = 'alice' ORDER BY processed_at, order_id",
    );
    expect(payments).toEqual([
      { order_id: a.orderId, status: 'FAILED', failure_reason: 'PAYMENT_EXPIRED' },
      { order_id: b.orderId, status: 'SUCCEEDED', failure_reason: null },
    ]);
    expect(await balance(billing, 'alice')).toBe(10_500 - 8_000);
    expect(await rows(billing, "SELECT * FROM billing_refunds WHERE username = 'alice'")).toEqual([]);
    expect(((await alice.get(`/requests/${a.requestId}`)).body as { status: string }).status).toBe('PAYMENT_TIMEOUT');
  });
});

describe('billing on its own', () => {
  const env = environment({ HERALD_INSTANCE_ID: 'billing-only-test' });
  let billing: AsyncOrders;
  const item = { sku: 'sku-1', quantity: 1, priceCents: 3_000 };
  const orderCreated = (orderId: string, username: string, totalCents: number, payBy?: number) => ({
    requestId: `r-${orderId}`,
    username,
    orderId,
    items: [{ ...item, priceCents: totalCents }],
    totalCents,
    createdAt: Date.now() - 60_000,
    ...(payBy === undefined ? {} : { payBy }),
  });

  it('charges an OrderCreated without payBy (written before it existed), and refuses one past its payBy without taking money', async () => {
    billing = await create(env, 'billing');
    await billing.start();
    await publishHandled(billing.app, OrderCreated, orderCreated('o-old', 'dora', 3_000), GROUPS.billing);
    await publishHandled(billing.app, OrderCreated, orderCreated('o-late', 'dora', 2_000, Date.now() - 1), GROUPS.billing);
    await publishHandled(billing.app, OrderCreated, orderCreated('o-due', 'dora', 1_000, Date.now() + 60_000), GROUPS.billing);
    const payments = await rows<{ order_id: string; status: string; failure_reason: string | null }>(
      billing,
      "SELECT order_id, status, failure_reason FROM billing_payments WHERE username = 'dora' ORDER BY order_id",
    );
    expect(payments).toEqual([
      { order_id: 'o-due', status: 'SUCCEEDED', failure_reason: null },
      { order_id: 'o-late', status: 'FAILED', failure_reason: 'PAYMENT_EXPIRED' },
      { order_id: 'o-old', status: 'SUCCEEDED', failure_reason: null },
    ]);
    expect(await balance(billing, 'dora')).toBe(10_500 - 3_000 - 1_000);
  });

  it('refunds only what an order\'s SUCCEEDED payment took, to whom it took it from, once; nothing for an order it took no money for', async () => {
    await publishHandled(billing.app, OrderCreated, orderCreated('o-paid', 'carol', 3_000), GROUPS.billing);
    await publishHandled(billing.app, OrderCreated, orderCreated('o-refused', 'carol', 1_000_000), GROUPS.billing);
    expect(await balance(billing, 'carol')).toBe(7_500);
    const refund = (orderId: string, username: string, amountCents: number) =>
      publishHandled(billing.app, RefundRequested, { orderId, requestId: `r-${orderId}`, username, amountCents }, GROUPS.billing);

    // no payment at all, a FAILED one, and one that expired: no money was taken, none is given
    await refund('o-never', 'carol', 5_000);
    await refund('o-refused', 'carol', 1_000_000);
    await refund('o-late', 'carol', 2_000);
    expect(await balance(billing, 'carol')).toBe(7_500);
    expect(await balance(billing, 'dora')).toBe(6_500);
    // a request asking for more than was taken, or naming someone else, gives back what was taken to whom it was taken from
    await refund('o-paid', 'dora', 9_000);
    expect(await balance(billing, 'carol')).toBe(10_500);
    expect(await balance(billing, 'dora')).toBe(6_500);
    // and only once
    await refund('o-paid', 'carol', 3_000);
    expect(await balance(billing, 'carol')).toBe(10_500);
    expect(await rows(billing, 'SELECT order_id, username, amount_cents FROM billing_refunds ORDER BY order_id')).toEqual([{ order_id: 'o-paid', username: 'carol', amount_cents: 3_000 }]);
  });

  it('never charges an order whose refund came first (the order service gave the order up before billing met it): PAYMENT_CANCELLED, nothing taken, nothing given', async () => {
    const refund = { orderId: 'o-given-up', requestId: 'r-o-given-up', username: 'carol', amountCents: 2_000 };
    await publishHandled(billing.app, RefundRequested, refund, GROUPS.billing);
    await publishHandled(billing.app, OrderCreated, orderCreated('o-given-up', 'carol', 2_000, Date.now() + 60_000), GROUPS.billing);
    await publishHandled(billing.app, RefundRequested, refund, GROUPS.billing);
    expect(await rows(billing, "SELECT order_id, status, failure_reason FROM billing_payments WHERE order_id = 'o-given-up'")).toEqual([
      { order_id: 'o-given-up', status: 'FAILED', failure_reason: 'PAYMENT_CANCELLED' },
    ]);
    expect(await balance(billing, 'carol')).toBe(10_500);
    expect(await rows(billing, "SELECT order_id FROM billing_refunds WHERE order_id = 'o-given-up'")).toEqual([]);
  });
});
