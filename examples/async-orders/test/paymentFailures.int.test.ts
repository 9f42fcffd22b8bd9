import type { InstrumentationEvent } from '@herald/core';
import { findSaga } from '@herald/saga';
import type { Static } from '@sinclair/typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { GROUPS, OrderCreated, OrderStatusUpdated, PaymentProcessed, RefundRequested } from '../src/events.js';
import { orderSaga } from '../src/saga.js';
import { createAsyncOrders, type AsyncOrders } from '../src/system.js';
import { Customer, eventually, orderBody } from './support/client.js';
import { ENGINES } from './support/engines.js';
import { refuseWrites, SAGA_TABLE } from './support/refuse.js';

// The order saga's own events dead-lettered in its group (order-saga), every service in this
// process: the OrderCreated that starts it (the saga never starts, so neither does its deadline,
// while billing takes the money), or billing's successful PaymentProcessed (the order times out
// with the money taken). Each request must end in a final status its client sees, with the money
// taken given back, once; a redrive of the letter afterwards must change neither.

type StatusData = Static<typeof OrderStatusUpdated.schema>;

const PAYMENT_TIMEOUT_MS = 3_000;

describe.each(ENGINES)('the order saga’s dead letters on $name', (engine) => {
  let shop: AsyncOrders;
  let url: string;
  let closeEngine: (() => Promise<void>) | undefined;
  /** Every OrderStatusUpdated by request id, and every RefundRequested's id by order id, as consumers of their topics see them. */
  const statuses = new Map<string, StatusData[]>();
  const refundsAsked = new Map<string, string[]>();
  const handled: Extract<InstrumentationEvent, { kind: 'handled' }>[] = [];

  beforeAll(async () => {
    const opened = await engine.open();
    closeEngine = opened.close;
    const env = { ...opened.env, HERALD_INSTANCE_ID: 'payment-failures-test', STARTING_BALANCE_CENTS: '10000', ORDER_WAIT_MS: '10000', PAYMENT_TIMEOUT_MS: String(PAYMENT_TIMEOUT_MS), HERALD_RETRY_MAX_ATTEMPTS: '2' };
    shop = await createAsyncOrders(loadConfig(env, []), env);
    shop.app.on(OrderStatusUpdated, { group: 'test-observer' }, async (event) => void statuses.set(event.data.requestId, [...(statuses.get(event.data.requestId) ?? []), event.data]));
    shop.app.on(RefundRequested, { group: 'test-observer' }, async (event) => void refundsAsked.set(event.data.orderId, [...(refundsAsked.get(event.data.orderId) ?? []), event.id]));
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

  /** The saga group's letters of this request's events of `type`. */
  async function lettersOf(type: string, requestId: string) {
    const letters = await shop.app.deadLetters({ group: GROUPS.orderSaga });
    return letters.filter((l) => l.eventType === type && JSON.parse(l.envelope).correlationId === requestId);
  }

  const balanceOf = async (who: Customer) => ((await who.get('/billing/balance')).body as { balanceCents: number }).balanceCents;
  const balanceToBe = (who: Customer, cents: number) => eventually(async () => ((await balanceOf(who)) === cents ? true : undefined), 15_000, `${who.username}’s balance to be ${cents}`);
  /** What billing took for the order and gave back: its payment, and its refund if any. */
  const moneyOf = async (orderId: string) =>
    (
      await rows<{ status: string; failure_reason: string | null; refunded: number | string | null }>(
        'SELECT p.status, p.failure_reason, r.amount_cents AS refunded FROM billing_payments p LEFT JOIN billing_refunds r ON r.order_id = p.order_id WHERE p.order_id = $1',
        [orderId],
      )
    ).map((row) => ({ ...row, refunded: row.refunded === null ? null : Number(row.refunded) }));

  it('ends FAILED when the saga dead-letters the OrderCreated that starts it: the held POST /orders is answered, what billing took is given back, and a redrive starts no saga', async () => {
    const kim = await customer('kim');
    // the database refuses to start kim's sagas (a started one has the order's data; billing's
    // answer, if it comes first, is kept without): each attempt fails, and OrderCreated is dead-lettered
    const lift = await refuseWrites(shop, {
      name: 'refuse_kim_sagas',
      table: SAGA_TABLE,
      when: { sqlite: "json_extract(NEW.state, '$.data.username') = 'kim'", postgres: "NEW.state::jsonb #>> '{data,username}' = 'kim'" },
    });
    const answer = await kim.order(orderBody(2_500), 'kim-1');
    const body = answer.body as { requestId: string; orderId: string; status: string; reason: string };
    const [letter] = await lettersOf(OrderCreated.type, body.requestId);
    expect(letter).toMatchObject({ status: 'dead', attempts: expect.any(Number) });
    expect({ status: answer.status, body }).toEqual({
      status: 201,
      body: { requestId: expect.any(String), orderId: expect.any(String), status: 'FAILED', reason: letter!.reason, totalCents: 2_500 },
    });
    // the gateway's own record follows (its group may come after this replica's wait), then the key answers from it
    const view = await eventually(async () => {
      const state = (await kim.get(`/requests/${body.requestId}`)).body as { status: string };
      return state.status === 'PENDING' ? undefined : state;
    }, 10_000, 'the request to be final');
    expect(view).toMatchObject({ status: 'FAILED', reason: letter!.reason });
    const again = await kim.order(orderBody(2_500), 'kim-1');
    expect({ status: again.status, body: again.body, replayed: again.replayed }).toEqual({ status: 201, body, replayed: true });
    expect(await rows('SELECT o.status, f.dead_letter_id FROM orders o JOIN order_failures f ON f.order_id = o.order_id WHERE o.request_id = $1', [body.requestId])).toEqual([
      { status: 'FAILED', dead_letter_id: letter!.id },
    ]);
    // billing met the order: it took the money and gives it back, or it is told first and never takes it
    await balanceToBe(kim, 10_000);
    const money = await moneyOf(body.orderId);
    expect([
      [{ status: 'SUCCEEDED', failure_reason: null, refunded: 2_500 }],
      [{ status: 'FAILED', failure_reason: 'PAYMENT_CANCELLED', refunded: null }],
    ]).toContainEqual(money);
    await eventually(async () => statuses.get(body.requestId), 10_000, 'the status, observed');
    expect(statuses.get(body.requestId)).toEqual([expect.objectContaining({ status: 'FAILED', previousStatus: 'PENDING_VALIDATION', totalCents: 2_500, metadata: { reason: 'UNPROCESSABLE', error: letter!.reason, deadLetterId: letter!.id } })]);

    // the cause fixed, the operator redrives the letter: the order is final and its money given
    // back, so no saga starts for it (a running one would track a payment that no longer counts)
    await lift();
    expect(await shop.app.redrive({ group: GROUPS.orderSaga, ids: [letter!.id] })).toEqual({ redriven: 1, failed: 0, stillParked: 0 });
    const saga = await findSaga(shop.app.stores, orderSaga(PAYMENT_TIMEOUT_MS), body.requestId);
    expect([undefined, 'awaiting-start']).toContain(saga?.status);
    const paid = await kim.order(orderBody(1_000), 'kim-2');
    expect((paid.body as { status: string }).status).toBe('PAID');
    await balanceToBe(kim, 9_000);
    expect(await rows('SELECT status FROM orders WHERE request_id = $1', [body.requestId])).toEqual([{ status: 'FAILED' }]);
    expect(statuses.get(body.requestId)!.map((s) => s.status)).toEqual(['FAILED']);
  });

  it('gives back a payment whose PaymentProcessed the saga dead-lettered once the order timed out without it, once, and a redrive then gives back nothing more', async () => {
    const lea = await customer('lea');
    // the database refuses what billing's success does to lea's saga, whether it comes after the
    // saga started (completing it) or before (kept until the start): the success is dead-lettered,
    // the saga starts on OrderCreated all the same and its deadline ends it
    const lift = await refuseWrites(shop, {
      name: 'refuse_lea_payments',
      table: SAGA_TABLE,
      when: {
        sqlite: "(NEW.status = 'completed' AND json_extract(NEW.state, '$.data.username') = 'lea') OR json_extract(NEW.state, '$.early[0].data.username') = 'lea'",
        postgres: "(NEW.status = 'completed' AND NEW.state::jsonb #>> '{data,username}' = 'lea') OR NEW.state::jsonb #>> '{early,0,data,username}' = 'lea'",
      },
    });
    const answer = await lea.order(orderBody(3_000), 'lea-1');
    const body = answer.body as { requestId: string; orderId: string; status: string };
    expect({ status: answer.status, orderStatus: body.status }).toEqual({ status: 201, orderStatus: 'PAYMENT_TIMEOUT' });
    const [letter] = await lettersOf(PaymentProcessed.type, body.requestId);
    expect(letter).toMatchObject({ status: 'dead' });
    // the money billing took for an order that ended without it comes back, once
    await balanceToBe(lea, 10_000);
    expect(await moneyOf(body.orderId)).toEqual([{ status: 'SUCCEEDED', failure_reason: null, refunded: 3_000 }]);
    expect(await rows('SELECT o.status, r.dead_letter_id FROM orders o JOIN order_refunds r ON r.order_id = o.order_id WHERE o.request_id = $1', [body.requestId])).toEqual([
      { status: 'PAYMENT_TIMEOUT', dead_letter_id: letter!.id },
    ]);

    // redriven once the cause is fixed, the success reaches a saga that timed out: it asks for the
    // refund again, and billing, having given the money back, gives nothing more
    await lift();
    expect(await shop.app.redrive({ group: GROUPS.orderSaga, ids: [letter!.id] })).toEqual({ redriven: 1, failed: 0, stillParked: 0 });
    const asked = await eventually(async () => ((refundsAsked.get(body.orderId)?.length ?? 0) >= 2 ? refundsAsked.get(body.orderId) : undefined), 10_000, 'the second refund request');
    await eventually(async () => (asked.every((id) => handled.some((f) => f.eventId === id && f.group === GROUPS.billing)) ? true : undefined), 10_000, 'billing to handle both');
    expect(await balanceOf(lea)).toBe(10_000);
    expect(await moneyOf(body.orderId)).toEqual([{ status: 'SUCCEEDED', failure_reason: null, refunded: 3_000 }]);
    expect(statuses.get(body.requestId)!.map((s) => s.status)).toEqual(['PAYMENT_TIMEOUT']);
  });

  it('ends FAILED when the saga dead-letters its deadline while billing never answers, and billing, redriven later, never charges the order', async () => {
    const ned = await customer('ned');
    // the database refuses ned's payments (billing's OrderCreated is dead-lettered: no answer ever
    // comes) and the end of his sagas (the deadline is dead-lettered too)
    const liftPayments = await refuseWrites(shop, {
      name: 'refuse_ned_payments',
      table: { sqlite: 'billing_payments', postgres: 'billing_payments' },
      when: { sqlite: "NEW.username = 'ned' AND NEW.failure_reason IS NOT 'PAYMENT_CANCELLED'", postgres: "NEW.username = 'ned' AND NEW.failure_reason IS DISTINCT FROM 'PAYMENT_CANCELLED'" },
    });
    const liftSagas = await refuseWrites(shop, {
      name: 'refuse_ned_sagas',
      table: SAGA_TABLE,
      when: { sqlite: "NEW.status = 'failed' AND json_extract(NEW.state, '$.data.username') = 'ned'", postgres: "NEW.status = 'failed' AND NEW.state::jsonb #>> '{data,username}' = 'ned'" },
    });
    const answer = await ned.order(orderBody(4_000), 'ned-1');
    const body = answer.body as { requestId: string; orderId: string; status: string; reason: string };
    const [letter] = await lettersOf('SagaDeadlineReached', body.requestId);
    expect(letter).toMatchObject({ status: 'dead' });
    expect({ status: answer.status, body }).toEqual({
      status: 201,
      body: { requestId: expect.any(String), orderId: expect.any(String), status: 'FAILED', reason: letter!.reason, totalCents: 4_000 },
    });
    // the refund reaches billing before any payment: billing will never charge the order
    await eventually(async () => ((await moneyOf(body.orderId)).length > 0 ? true : undefined), 10_000, 'billing to record the cancellation');
    expect(await moneyOf(body.orderId)).toEqual([{ status: 'FAILED', failure_reason: 'PAYMENT_CANCELLED', refunded: null }]);

    await liftPayments();
    await liftSagas();
    const billingLetters = (await shop.app.deadLetters({ group: GROUPS.billing })).filter((l) => l.eventType === OrderCreated.type && JSON.parse(l.envelope).correlationId === body.requestId);
    expect(await shop.app.redrive({ group: GROUPS.billing, ids: billingLetters.map((l) => l.id) })).toEqual({ redriven: 1, failed: 0, stillParked: 0 });
    expect(await shop.app.redrive({ group: GROUPS.orderSaga, ids: [letter!.id] })).toEqual({ redriven: 1, failed: 0, stillParked: 0 });
    expect(await moneyOf(body.orderId)).toEqual([{ status: 'FAILED', failure_reason: 'PAYMENT_CANCELLED', refunded: null }]);
    expect(await balanceOf(ned)).toBe(10_000);
    expect(await rows('SELECT status FROM orders WHERE request_id = $1', [body.requestId])).toEqual([{ status: 'FAILED' }]);
  });
});
