import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeEnvelopeValue, uuidv7, type Envelope } from '@herald/core';
import type { Static } from '@sinclair/typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { GROUPS, OrderCreated, OrderCreationRequested, OrderStatusUpdated } from '../src/events.js';
import { createAsyncOrders, type AsyncOrders } from '../src/system.js';
import { Customer, eventually, orderBody } from './support/client.js';
import { inProcessEnv } from './support/processes.js';

// A request the gateway accepted (PENDING) whose OrderCreationRequested the order service cannot
// process — refused as poison, or failed for good — is a dead letter of the order service's group.
// Its client must get a final answer, not poll PENDING for ever; and the letter, redriven later,
// must not charge an order its client was told had failed.

type StatusData = Static<typeof OrderStatusUpdated.schema>;

const dir = mkdtempSync(join(tmpdir(), 'herald-async-orders-failures-'));
let shop: AsyncOrders;
let url: string;
/** Every OrderStatusUpdated and OrderCreated, by request id, as a consumer of their topics sees them. */
const statuses = new Map<string, StatusData[]>();
const created = new Set<string>();

beforeAll(async () => {
  const env = inProcessEnv(dir, { HERALD_INSTANCE_ID: 'failures-test', STARTING_BALANCE_CENTS: '10000', ORDER_WAIT_MS: '10000', HERALD_RETRY_MAX_ATTEMPTS: '2' });
  shop = await createAsyncOrders(loadConfig(env), env);
  shop.app.on(OrderStatusUpdated, { group: 'test-observer' }, async (event) => void statuses.set(event.data.requestId, [...(statuses.get(event.data.requestId) ?? []), event.data]));
  shop.app.on(OrderCreated, { group: 'test-observer' }, async (event) => void created.add(event.data.requestId));
  url = (await shop.start()).url!;
}, 60_000);

afterAll(async () => {
  await shop?.close();
  rmSync(dir, { recursive: true, force: true });
});

const rows = <T>(sql: string, params: unknown[] = []): Promise<T[]> => shop.engine.stores.transaction((tx) => tx.query<T>(sql, params));
const execute = (sql: string, params: unknown[] = []): Promise<number> => shop.engine.stores.transaction((tx) => tx.execute(sql, params));

async function customer(username: string): Promise<Customer> {
  const signedUp = await new Customer(url, username).signUp();
  await eventually(async () => ((await signedUp.get('/billing/balance')).status === 200 ? true : undefined), 10_000, `${username}’s account`);
  return signedUp;
}

/** The order service's dead letters of this request's OrderCreationRequested. */
async function lettersOf(requestId: string) {
  const letters = await shop.app.deadLetters({ group: GROUPS.order });
  return letters.filter((l) => l.eventType === OrderCreationRequested.type && JSON.parse(l.envelope).correlationId === requestId);
}

describe('a request whose OrderCreationRequested the order service dead-letters', () => {
  it('ends FAILED with the reason when the order service refuses the event (schema-violation): the polling client gets a final status, nothing is charged', async () => {
    const ivy = await customer('ivy');
    // a newer gateway took a request this order service's schema refuses (3 000 of an item: its
    // events allow 1 000), as a rollout of the gateway first would: its row, then its event
    const requestId = uuidv7();
    const now = Date.now();
    await execute("INSERT INTO gateway_order_requests (request_id, username, order_id, status, total_cents, created_at) VALUES ($1, 'ivy', NULL, 'PENDING', 3000, $2)", [requestId, now]);
    await execute("INSERT INTO gateway_order_history (request_id, status, at) VALUES ($1, 'PENDING', $2)", [requestId, now]);
    const data = { requestId, username: 'ivy', items: [{ sku: 'pen', quantity: 3_000, priceCents: 1 }], deliveryAddress: '1 Main Street', paymentMethod: 'balance', createdAt: now };
    const event: Envelope = {
      id: uuidv7(),
      type: OrderCreationRequested.type,
      version: 1,
      topic: OrderCreationRequested.topic,
      key: 'ivy',
      correlationId: requestId,
      causationId: null,
      occurredAt: new Date(now).toISOString(),
      headers: {},
      data,
    };
    await shop.app.broker.publish([{ topic: event.topic, key: event.key, value: encodeEnvelopeValue(event), headers: event.headers }]);

    // the client polls its request, as the 202's Location says
    const final = await eventually(async () => {
      const answer = await ivy.get(`/requests/${requestId}`);
      return (answer.body as { status?: string }).status === 'PENDING' ? undefined : answer.body;
    }, 15_000, `request ${requestId} to be final`);
    const [letter] = await lettersOf(requestId);
    expect(letter).toMatchObject({ reason: 'schema-violation', status: 'dead' });
    expect(final).toEqual({
      requestId,
      orderId: expect.any(String),
      status: 'FAILED',
      reason: 'schema-violation',
      totalCents: 3_000,
      history: [
        { status: 'PENDING', at: expect.any(Number) },
        { status: 'FAILED', at: expect.any(Number) },
      ],
    });
    const { orderId } = final as { orderId: string };
    // the order service's record says which letter failed it; the letter stays for the operator
    expect(await rows('SELECT o.status, f.dead_letter_id, f.reason FROM orders o JOIN order_failures f ON f.order_id = o.order_id WHERE o.request_id = $1', [requestId])).toEqual([
      { status: 'FAILED', dead_letter_id: letter!.id, reason: 'schema-violation' },
    ]);
    await eventually(async () => statuses.get(requestId), 10_000, 'the status, observed');
    expect(statuses.get(requestId)).toEqual([
      expect.objectContaining({ orderId, status: 'FAILED', previousStatus: 'REQUESTED', totalCents: 3_000, metadata: { reason: 'UNPROCESSABLE', error: 'schema-violation', deadLetterId: letter!.id } }),
    ]);
    expect(created.has(requestId)).toBe(false);
    expect(await rows("SELECT order_id FROM billing_payments WHERE username = 'ivy'")).toEqual([]);
    expect((await ivy.get('/billing/balance')).body).toEqual({ balanceCents: 10_000 });
    const notifications = await eventually(async () => {
      const list = ((await ivy.get('/notifications')).body as { notifications: { type: string; orderId: string | null }[] }).notifications;
      return list.some((n) => n.type === 'ORDER_FAILED') ? list : undefined;
    }, 15_000, 'ivy’s ORDER_FAILED notification');
    expect(notifications.filter((n) => n.orderId !== null)).toEqual([expect.objectContaining({ type: 'ORDER_FAILED', orderId })]);
  });

  it('answers the held POST /orders FAILED when the handler fails for good, the same to the key again, and a redrive of the letter charges nothing', async () => {
    const jay = await customer('jay');
    // the database refuses jay's orders (a constraint the order service does not know of): every
    // attempt of the handler fails, and the request is dead-lettered once its attempts are spent
    await execute(
      "CREATE TRIGGER refuse_jay BEFORE INSERT ON orders WHEN NEW.username = 'jay' AND NEW.status = 'PENDING_VALIDATION' BEGIN SELECT RAISE(ABORT, 'no orders for jay'); END",
    );
    const answer = await jay.order(orderBody(2_500), 'jay-1');
    expect(answer.status).toBe(201);
    const body = answer.body as { requestId: string; orderId: string; reason: string };
    const [letter] = await lettersOf(body.requestId);
    expect(letter).toMatchObject({ status: 'dead', attempts: 2 });
    expect(body).toEqual({ requestId: expect.any(String), orderId: expect.any(String), status: 'FAILED', reason: letter!.reason, totalCents: 2_500 });
    const again = await jay.order(orderBody(2_500), 'jay-1');
    expect({ status: again.status, body: again.body, replayed: again.replayed }).toEqual({ status: 201, body, replayed: true });

    // the cause fixed, the operator redrives the letter: the client was told FAILED (and may have
    // ordered again), so the request creates no order and takes no money
    await execute('DROP TRIGGER refuse_jay');
    expect(await shop.app.redrive({ group: GROUPS.order, ids: [letter!.id] })).toEqual({ redriven: 1, failed: 0, stillParked: 0 });
    const paid = await jay.order(orderBody(1_000), 'jay-2');
    expect((paid.body as { status: string }).status).toBe('PAID');
    // jay's later order observed: whatever the redrive published for jay came before it
    const later = (paid.body as { requestId: string }).requestId;
    await eventually(async () => (created.has(later) && statuses.has(later) ? true : undefined), 10_000, 'jay’s next order, observed');
    expect(await rows('SELECT order_id, status FROM orders WHERE request_id = $1', [body.requestId])).toEqual([{ order_id: body.orderId, status: 'FAILED' }]);
    expect(created.has(body.requestId)).toBe(false);
    expect(statuses.get(body.requestId)!.map((s) => s.status)).toEqual(['FAILED']);
    expect((await jay.get('/billing/balance')).body).toEqual({ balanceCents: 9_000 });
    expect((await jay.get(`/requests/${body.requestId}`)).body).toMatchObject({ status: 'FAILED', reason: letter!.reason });
  });
});
