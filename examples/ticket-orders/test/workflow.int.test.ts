import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { GROUPS } from '../src/events.js';
import { createTicketOrders, type TicketOrders } from '../src/system.js';
import type { Workflow } from '../src/workflow.js';
import { eventually, postOrder, send } from './support/client.js';
import { tempDataDir } from './support/processes.js';

// The README's "An order whose event is dead-lettered": an order whose OrderCreated
// order-service's saga dead-lettered has no saga, so no deadline would ever end it. It ends FAILED
// at once, payment-service and ticket-service undo what they do for it, and the letter, redriven
// later, starts the saga without changing the order, taking money or issuing a ticket.

const DEADLINE_MS = 1_000;
const dirs: ReturnType<typeof tempDataDir>[] = [];
const running: TicketOrders[] = [];

/** A fresh data directory for one test. */
function dataDir(): string {
  const data = tempDataDir('ticket-orders-workflow');
  dirs.push(data);
  return data.dir;
}

async function start(dir: string, extra: Record<string, string>, argv: string[]): Promise<{ system: TicketOrders; url: string }> {
  const env = { HERALD_DATA_DIR: dir, HERALD_KAFKA_BROKERS: '', DATABASE_URL: '', HERALD_LOG_LEVEL: 'silent', PORT: '0', HERALD_RETRY_MAX_ATTEMPTS: '1', ORDER_STEP_DEADLINE_MS: String(DEADLINE_MS), ...extra };
  const system = await createTicketOrders(loadConfig(env, argv), env);
  running.push(system);
  const { url } = await system.start();
  return { system, url: url! };
}

async function workflow(url: string, orderId: string): Promise<Workflow> {
  const answer = await send(`${url}/orders/${orderId}/workflow`);
  expect(answer.status).toBe(200);
  return JSON.parse(answer.text) as Workflow;
}

/** Each event of the workflow with, per group that handles it, whether that group processed it. */
const processing = (view: Workflow) => view.events.map((e) => [e.type, Object.fromEntries(e.consumers.map((c) => [c.group, c.processed]))]);

afterAll(async () => {
  for (const system of running) await system.close();
  for (const data of dirs) data.remove();
});

describe('an order whose OrderCreated the saga dead-lettered', () => {
  it('ends FAILED at once; its payment is refunded and its ticket void; the letter redriven changes nothing of it', async () => {
    // order-service alone with the api and the relay, every handler attempt failing and dead-lettered at once
    const dir = dataDir();
    const failing = await start(dir, { HANDLER_FAILURE_RATE: '1' }, ['--service', 'api,relay,order']);
    const created = await postOrder(failing.url, { customerId: 'c-1', flightId: 'SU100', seat: '1A', priceCents: 5_000 }, 'workflow-1');
    expect(created.status).toBe(201);
    const { orderId } = JSON.parse(created.text) as { orderId: string };
    const [letter] = await eventually(async () => {
      const letters = await failing.system.app.stores.deadLetters.list({ group: GROUPS.order, key: orderId });
      return letters.length === 1 ? letters : undefined;
    }, 15_000, 'the dead letter');
    const reason = `order-service: OrderCreated dead-lettered (${letter!.reason})`;
    // the cancellations published (and relayed) with the order's end; the saga has handled no event of the order
    const failed = await eventually(async () => {
      const view = await workflow(failing.url, orderId);
      return view.order.status === 'FAILED' && view.events.length === 3 && view.events.every((e) => e.published) ? view : undefined;
    }, 15_000, 'the order FAILED, its cancellations relayed');
    expect(failed.order).toMatchObject({ reason, paymentId: null, paymentStatus: null, ticketId: null, ticketStatus: null });
    expect(failed.saga).toBeNull();
    expect(processing(failed)).toEqual([
      ['OrderCreated', { 'payment-service': false, 'order-service': false }],
      ['CancelPayment', { 'payment-service': false }],
      ['VoidTicket', { 'ticket-service': false }],
    ]);
    // its seat is free
    expect((await postOrder(failing.url, { customerId: 'c-2', flightId: 'SU100', seat: '1A', priceCents: 5_000 }, 'workflow-2')).status).toBe(201);
    await failing.system.close();

    // everything, healthy: payment-service charges, then refunds; ticket-service voids first, so it
    // issues nothing; the saga keeps the PaymentAuthorized for the start it has not seen
    const healthy = await start(dir, {}, []);
    const undone = await eventually(async () => {
      const view = await workflow(healthy.url, orderId);
      return view.events.every((e) => e.consumers.every((c) => c.processed || (c.group === GROUPS.order && e.type === 'OrderCreated'))) ? view : undefined;
    }, 15_000, 'every event processed but the dead letter');
    expect(undone.order).toMatchObject({ status: 'FAILED', reason, paymentId: expect.any(String), paymentStatus: 'REFUNDED', ticketId: null, ticketStatus: 'VOIDED' });
    expect(undone.saga).toMatchObject({ status: 'awaiting-start', startedAt: null });
    expect(processing(undone).map(([type]) => type)).toEqual(['OrderCreated', 'CancelPayment', 'VoidTicket', 'PaymentAuthorized']);

    // the letter redriven: the saga starts, takes the payment it kept, and fails at the ticket's
    // deadline (no ticket will come); the order stays as it ended, with no second charge or ticket
    expect(await healthy.system.app.redrive({ group: GROUPS.order })).toMatchObject({ redriven: 1, failed: 0 });
    const after = await eventually(async () => {
      const view = await workflow(healthy.url, orderId);
      return view.saga?.status === 'failed' && view.events.every((e) => e.consumers.every((c) => c.processed)) ? view : undefined;
    }, DEADLINE_MS + 15_000, 'the saga failed and its cancellations processed');
    expect(after.saga).toMatchObject({ steps: [{ name: 'payment', status: 'compensated' }, { name: 'ticket', status: 'timed-out' }] });
    expect(after.order).toEqual(undone.order);
    expect(processing(after).map(([type]) => type)).toEqual(['OrderCreated', 'CancelPayment', 'VoidTicket', 'PaymentAuthorized', 'SagaDeadlineReached', 'CancelPayment', 'VoidTicket']);
    const payments = await healthy.system.engine.stores.transaction((tx) => tx.query('SELECT status FROM payments WHERE order_id = $1', [orderId]));
    expect(payments).toEqual([{ status: 'REFUNDED' }]);
  });

  it('undoes the payment and the ticket again when the saga, its letter redriven, completes for the FAILED order whose cancellations were dead-lettered', async () => {
    const dir = dataDir();
    const failing = await start(dir, { HANDLER_FAILURE_RATE: '1' }, ['--service', 'api,relay,order']);
    const created = await postOrder(failing.url, { customerId: 'c-3', flightId: 'SU300', seat: '3C', priceCents: 5_000 }, 'workflow-3');
    const { orderId } = JSON.parse(created.text) as { orderId: string };
    await eventually(async () => {
      const view = await workflow(failing.url, orderId);
      return view.order.status === 'FAILED' && view.events.length === 3 && view.events.every((e) => e.published) ? true : undefined;
    }, 15_000, 'the order FAILED, its cancellations relayed');
    // payment-service and ticket-service will not be able to apply the cancellations (dead letters), so they charge and issue
    const refuse = (sql: string) => failing.system.engine.stores.transaction((tx) => tx.execute(sql));
    await refuse("CREATE TRIGGER refuse_void_payment BEFORE INSERT ON payments WHEN NEW.status = 'VOIDED' BEGIN SELECT RAISE(ABORT, 'no void'); END");
    await refuse("CREATE TRIGGER refuse_void_ticket BEFORE INSERT ON ticket_voids BEGIN SELECT RAISE(ABORT, 'no void'); END");
    await failing.system.close();

    const healthy = await start(dir, {}, []);
    const run = (sql: string) => healthy.system.engine.stores.transaction((tx) => tx.execute(sql));
    await eventually(async () => ((await workflow(healthy.url, orderId)).events.some((e) => e.type === 'TicketIssued') ? true : undefined), 15_000, 'the ticket issued');
    expect((await workflow(healthy.url, orderId)).order).toMatchObject({ status: 'FAILED', paymentStatus: 'AUTHORIZED', ticketStatus: 'ISSUED' });
    const letters = await healthy.system.app.deadLetters({ key: orderId });
    expect(letters.map((l) => `${l.group} ${l.eventType}`).sort()).toEqual(['order-service OrderCreated', 'payment-service CancelPayment', 'ticket-service VoidTicket']);
    await run('DROP TRIGGER refuse_void_payment');
    await run('DROP TRIGGER refuse_void_ticket');

    // only order-service's letter redriven: the saga starts and completes, the order stays FAILED, and order-service undoes both
    expect(await healthy.system.app.redrive({ group: GROUPS.order, key: orderId })).toMatchObject({ redriven: 1, failed: 0 });
    const undone = await eventually(async () => {
      const view = await workflow(healthy.url, orderId);
      return view.order.paymentStatus === 'REFUNDED' && view.order.ticketStatus === 'VOIDED' ? view : undefined;
    }, 15_000, 'the payment refunded and the ticket voided');
    expect(undone.saga).toMatchObject({ status: 'completed' });
    expect(undone.order.status).toBe('FAILED');
  });
});
