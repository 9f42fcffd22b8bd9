import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { GROUPS } from '../src/events.js';
import type { OrderView } from '../src/schema.js';
import { createTicketOrders, type TicketOrders } from '../src/system.js';
import { eventually, postOrder, send } from './support/client.js';
import { tempDataDir } from './support/processes.js';

// An order whose event payment-service or ticket-service dead-letters must not stay CREATED with
// its seat held and its money taken: the saga step's deadline ends it FAILED, the seat is freed,
// the money given back, and the letter, redriven once the cause is fixed, charges and issues nothing.

const DEADLINE_MS = 2_000;
const data = tempDataDir('ticket-orders-deadlines');
const env = {
  HERALD_DATA_DIR: data.dir,
  HERALD_KAFKA_BROKERS: '',
  DATABASE_URL: '',
  HERALD_LOG_LEVEL: 'silent',
  PORT: '0',
  HERALD_RETRY_MAX_ATTEMPTS: '2',
  HERALD_RETRY_INITIAL_DELAY_MS: '10',
  ORDER_STEP_DEADLINE_MS: String(DEADLINE_MS),
};
let system: TicketOrders;
let url: string;

beforeAll(async () => {
  system = await createTicketOrders(loadConfig(env, []), env);
  url = (await system.start()).url!;
});
afterAll(async () => {
  await system?.close();
  data.remove();
});

const execute = (sql: string) => system.engine.stores.transaction((tx) => tx.execute(sql));
const rows = <T>(sql: string, params: unknown[]) => system.engine.stores.transaction((tx) => tx.query<T>(sql, params));
const view = async (orderId: string) => JSON.parse((await send(`${url}/orders/${orderId}`)).text) as OrderView;
const published = async (orderId: string) => (await system.engine.stores.outbox.findByCorrelation(orderId)).map((e) => e.type).filter((t) => !t.startsWith('Saga'));

async function place(seat: string, priceCents: number, key: string): Promise<string> {
  const answer = await postOrder(url, { customerId: `c-${key}`, flightId: 'SU200', seat, priceCents }, key);
  expect(answer.status).toBe(201);
  return (JSON.parse(answer.text) as { orderId: string }).orderId;
}

async function ended(orderId: string, status: string): Promise<OrderView> {
  return eventually(async () => {
    const order = await view(orderId);
    return order.status === status ? order : undefined;
  }, DEADLINE_MS * 4 + 10_000, `order ${orderId} ${status}`);
}

/** The seat is free again: another customer's order for it is taken and ticketed. */
async function rebook(seat: string, key: string): Promise<void> {
  const orderId = await place(seat, 5_000, key);
  expect(await ended(orderId, 'TICKET_ISSUED')).toMatchObject({ seat, ticketStatus: 'ISSUED' });
}

async function redriveLetter(group: string, orderId: string): Promise<void> {
  const letters = await system.app.deadLetters({ group, key: orderId });
  expect(letters.map((l) => l.status)).toEqual(['dead']);
  expect(await system.app.redrive({ group, key: orderId })).toEqual({ redriven: 1, failed: 0, stillParked: 0 });
}

describe('a saga step whose event is dead-lettered', () => {
  it('payment-service: the order ends FAILED at the payment deadline, nothing taken; the letter redriven takes nothing', async () => {
    // the database refuses this order's payment (a constraint payment-service does not know of)
    await execute("CREATE TRIGGER refuse_payment BEFORE INSERT ON payments WHEN NEW.amount_cents = 4321 AND NEW.status = 'AUTHORIZED' BEGIN SELECT RAISE(ABORT, 'no payment'); END");
    const orderId = await place('1A', 4_321, 'payment-letter');
    const failed = await ended(orderId, 'FAILED');
    expect(failed).toMatchObject({ reason: `payment: no answer within ${DEADLINE_MS} ms`, paymentId: null, ticketId: null });
    // the cancellations reached payment-service and ticket-service: nothing will be taken or issued
    await eventually(async () => ((await view(orderId)).paymentStatus === 'VOIDED' && (await view(orderId)).ticketStatus === 'VOIDED' ? true : undefined), 10_000, 'payment and ticket voided');
    await rebook('1A', 'payment-rebook');

    await execute('DROP TRIGGER refuse_payment');
    await redriveLetter(GROUPS.payment, orderId);
    expect(await rows('SELECT amount_cents, status FROM payments WHERE order_id = $1', [orderId])).toEqual([{ amount_cents: 0, status: 'VOIDED' }]);
    expect(await published(orderId)).toEqual(['OrderCreated', 'CancelPayment', 'VoidTicket']);
    expect(await view(orderId)).toMatchObject({ status: 'FAILED', paymentStatus: 'VOIDED', ticketId: null });
  });

  it('ticket-service: the order ends FAILED at the ticket deadline, its payment refunded; the letter redriven issues nothing', async () => {
    await execute('CREATE TRIGGER refuse_ticket BEFORE INSERT ON tickets WHEN (SELECT price_cents FROM orders WHERE order_id = NEW.order_id) = 4322 BEGIN SELECT RAISE(ABORT, \'no ticket\'); END');
    const orderId = await place('2B', 4_322, 'ticket-letter');
    const failed = await ended(orderId, 'FAILED');
    expect(failed).toMatchObject({ reason: `ticket: no answer within ${DEADLINE_MS} ms`, paymentId: expect.any(String), ticketId: null });
    await eventually(async () => ((await view(orderId)).paymentStatus === 'REFUNDED' && (await view(orderId)).ticketStatus === 'VOIDED' ? true : undefined), 10_000, 'payment refunded, ticket voided');
    await rebook('2B', 'ticket-rebook');

    await execute('DROP TRIGGER refuse_ticket');
    await redriveLetter(GROUPS.ticket, orderId);
    expect(await rows('SELECT ticket_id FROM tickets WHERE order_id = $1', [orderId])).toEqual([]);
    expect(await rows("SELECT COUNT(*) AS n FROM tickets WHERE flight_id = 'SU200' AND seat = '2B'", [])).toEqual([{ n: 1 }]);
    expect(await rows('SELECT amount_cents, status FROM payments WHERE order_id = $1', [orderId])).toEqual([{ amount_cents: 4_322, status: 'REFUNDED' }]);
    expect(await published(orderId)).toEqual(['OrderCreated', 'PaymentAuthorized', 'CancelPayment', 'VoidTicket']);
    expect(await view(orderId)).toMatchObject({ status: 'FAILED', paymentStatus: 'REFUNDED', ticketStatus: 'VOIDED' });
  });

  it('payment-service, its cancellation dead-lettered too: the OrderCreated redriven alone takes the money, and the failed saga gives it back', async () => {
    await execute("CREATE TRIGGER refuse_payment BEFORE INSERT ON payments WHEN NEW.amount_cents = 4323 AND NEW.status = 'AUTHORIZED' BEGIN SELECT RAISE(ABORT, 'no payment'); END");
    await execute("CREATE TRIGGER refuse_void BEFORE INSERT ON payments WHEN NEW.status = 'VOIDED' BEGIN SELECT RAISE(ABORT, 'no void'); END");
    const orderId = await place('3C', 4_323, 'payment-letters');
    await ended(orderId, 'FAILED');
    const letters = await eventually(async () => {
      const found = await system.app.deadLetters({ group: GROUPS.payment, key: orderId });
      return found.length === 2 ? found : undefined;
    }, 10_000, 'the OrderCreated and CancelPayment letters');
    expect(letters.map((l) => l.eventType)).toEqual(['OrderCreated', 'CancelPayment']);
    await execute('DROP TRIGGER refuse_payment');
    await execute('DROP TRIGGER refuse_void');

    // the operator redrives the OrderCreated, not the CancelPayment: payment-service charges (it
    // knows of no cancellation), and the PaymentAuthorized reaches the failed saga, which cancels again
    expect(await system.app.redrive({ group: GROUPS.payment, ids: [letters[0]!.id] })).toEqual({ redriven: 1, failed: 0, stillParked: 0 });
    await eventually(async () => ((await view(orderId)).paymentStatus === 'REFUNDED' ? true : undefined), 10_000, 'the payment refunded');
    expect(await published(orderId)).toEqual(['OrderCreated', 'CancelPayment', 'VoidTicket', 'PaymentAuthorized', 'CancelPayment']);
    expect(await view(orderId)).toMatchObject({ status: 'FAILED', ticketId: null, ticketStatus: 'VOIDED' });
    // the cancellation's own letter, redriven last, changes nothing
    expect(await system.app.redrive({ group: GROUPS.payment, ids: [letters[1]!.id] })).toEqual({ redriven: 1, failed: 0, stillParked: 0 });
    expect(await rows('SELECT amount_cents, status FROM payments WHERE order_id = $1', [orderId])).toEqual([{ amount_cents: 4_323, status: 'REFUNDED' }]);
  });
});
