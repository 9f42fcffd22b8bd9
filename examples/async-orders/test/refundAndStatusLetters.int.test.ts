import type { InstrumentationEvent } from '@herald/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { GROUPS, OrderStatusUpdated, PaymentProcessed, RefundRequested } from '../src/events.js';
import { createAsyncOrders, type AsyncOrders } from '../src/system.js';
import { Customer, eventually, orderBody } from './support/client.js';
import { ENGINES } from './support/engines.js';
import { refuseWrites, SAGA_TABLE } from './support/refuse.js';

// Two letters that once waited for an operator's redrive, every service in this process: billing's
// RefundRequested (the order ended without its payment, and the money stayed taken, silently) and
// the gateway's OrderStatusUpdated (the order ended, and its client polled PENDING for ever). The
// refund must happen without the redrive, once; the request must show the order's final status.

const PAYMENT_TIMEOUT_MS = 3_000;

describe.each(ENGINES)('letters that only their handler could remedy, on $name', (engine) => {
  let shop: AsyncOrders;
  let url: string;
  let closeEngine: (() => Promise<void>) | undefined;
  const handled: Extract<InstrumentationEvent, { kind: 'handled' }>[] = [];

  beforeAll(async () => {
    const opened = await engine.open();
    closeEngine = opened.close;
    const env = { ...opened.env, HERALD_INSTANCE_ID: 'handler-letters-test', STARTING_BALANCE_CENTS: '10000', ORDER_WAIT_MS: '10000', PAYMENT_TIMEOUT_MS: String(PAYMENT_TIMEOUT_MS), HERALD_RETRY_MAX_ATTEMPTS: '2' };
    shop = await createAsyncOrders(loadConfig(env, []), env);
    shop.app.instrumentation.on((fact) => {
      if (fact.kind === 'handled') handled.push(fact);
    });
    url = (await shop.start()).url!;
  }, 120_000);

  afterAll(async () => {
    await shop?.close();
    await closeEngine?.();
  }, 60_000);

  const rows = <T>(sql: string, params: unknown[] = []): Promise<T[]> => shop.engine.stores.transaction((tx) => tx.query<T>(sql, params));

  async function customer(username: string): Promise<Customer> {
    const signedUp = await new Customer(url, username).signUp();
    await eventually(async () => ((await signedUp.get('/billing/balance')).status === 200 ? true : undefined), 10_000, `${username}’s account`);
    return signedUp;
  }

  async function letterOf(group: string, type: string, requestId: string) {
    const letters = await shop.app.deadLetters({ group });
    return letters.find((l) => l.eventType === type && JSON.parse(l.envelope).correlationId === requestId);
  }

  const balanceOf = async (who: Customer) => ((await who.get('/billing/balance')).body as { balanceCents: number }).balanceCents;
  const refundsOf = (orderId: string) => rows<{ amount_cents: number | string }>('SELECT amount_cents FROM billing_refunds WHERE order_id = $1', [orderId]).then((r) => r.map((x) => Number(x.amount_cents)));

  it('gives back the money of a refund billing dead-lettered, without a redrive, and a redrive afterwards gives nothing more', async () => {
    const max = await customer('max');
    // billing's success never reaches max's saga (the order times out with the money taken, and
    // the order service asks for the refund), and billing cannot record max's refunds: the
    // RefundRequested is a dead letter of billing's group
    const liftSaga = await refuseWrites(shop, {
      name: 'refuse_max_payments',
      table: SAGA_TABLE,
      when: {
        sqlite: "(NEW.status = 'completed' AND json_extract(NEW.state, '$.data.username') = 'max') OR json_extract(NEW.state, '$.early[0].data.username') = 'max'",
        postgres: "(NEW.status = 'completed' AND NEW.state::jsonb #>> '{data,username}' = 'max') OR NEW.state::jsonb #>> '{early,0,data,username}' = 'max'",
      },
    });
    const liftRefunds = await refuseWrites(shop, {
      name: 'refuse_max_refunds',
      table: { sqlite: 'billing_refunds', postgres: 'billing_refunds' },
      when: { sqlite: "NEW.username = 'max'", postgres: "NEW.username = 'max'" },
    });
    const answer = await max.order(orderBody(3_000), 'max-1');
    const body = answer.body as { requestId: string; orderId: string; status: string };
    expect({ status: answer.status, orderStatus: body.status }).toEqual({ status: 201, orderStatus: 'PAYMENT_TIMEOUT' });
    expect(await letterOf(GROUPS.orderSaga, PaymentProcessed.type, body.requestId)).toMatchObject({ status: 'dead' });
    const letter = await eventually(async () => letterOf(GROUPS.billing, RefundRequested.type, body.requestId), 15_000, 'billing’s letter of the refund');
    expect(letter).toMatchObject({ status: 'dead' });
    expect(await balanceOf(max)).toBe(7_000);

    // the cause fixed (no redrive): the money owed comes back, once
    await liftRefunds();
    await liftSaga();
    await eventually(async () => ((await balanceOf(max)) === 10_000 ? true : undefined), 45_000, 'max’s balance to be 10000');
    expect(await refundsOf(body.orderId)).toEqual([3_000]);
    expect(await shop.app.deadLetters({ group: GROUPS.billing })).toContainEqual(expect.objectContaining({ id: letter.id, status: 'dead' }));

    // the operator redrives the letter all the same: billing refunds an order once
    const eventId = (JSON.parse(letter.envelope) as { id: string }).id;
    expect(await shop.app.redrive({ group: GROUPS.billing, ids: [letter.id] })).toEqual({ redriven: 1, failed: 0, stillParked: 0 });
    await eventually(async () => (handled.some((f) => f.eventId === eventId && f.group === GROUPS.billing) ? true : undefined), 15_000, 'billing to handle the redriven refund');
    expect(await balanceOf(max)).toBe(10_000);
    expect(await refundsOf(body.orderId)).toEqual([3_000]);
  }, 90_000);

  it('shows the order’s final status when the gateway dead-letters its OrderStatusUpdated, and the key answers it again at once', async () => {
    const gus = await customer('gus');
    // the gateway's read model cannot move gus's requests out of PENDING: its OrderStatusUpdated
    // is a dead letter of the gateway's group (this replica's wait still answers the held request)
    const lift = await refuseWrites(shop, {
      name: 'refuse_gus_statuses',
      table: { sqlite: 'gateway_order_requests', postgres: 'gateway_order_requests' },
      when: { sqlite: "NEW.username = 'gus' AND NEW.status <> 'PENDING'", postgres: "NEW.username = 'gus' AND NEW.status <> 'PENDING'" },
    });
    const answer = await gus.order(orderBody(2_000), 'gus-1');
    const body = answer.body as { requestId: string; orderId: string; status: string };
    expect({ status: answer.status, body }).toEqual({ status: 201, body: { requestId: expect.any(String), orderId: expect.any(String), status: 'PAID', totalCents: 2_000 } });
    await eventually(async () => letterOf(GROUPS.gateway, OrderStatusUpdated.type, body.requestId), 15_000, 'the gateway’s letter of the status');
    expect(await rows('SELECT status FROM gateway_order_requests WHERE request_id = $1', [body.requestId])).toEqual([{ status: 'PENDING' }]);

    const view = { requestId: body.requestId, orderId: body.orderId, status: 'PAID', totalCents: 2_000, history: [{ status: 'PENDING', at: expect.any(Number) }, { status: 'PAID', at: expect.any(Number) }] };
    expect((await gus.get(`/requests/${body.requestId}`)).body).toEqual(view);
    expect((await gus.get(`/orders/${body.orderId}`)).body).toEqual(view);
    // the key again: the same answer, from the order's state (not a 202 once the wait runs out)
    const again = await gus.order(orderBody(2_000), 'gus-1');
    expect({ status: again.status, body: again.body, replayed: again.replayed }).toEqual({ status: 201, body, replayed: true });
    await lift();
  }, 60_000);
});
