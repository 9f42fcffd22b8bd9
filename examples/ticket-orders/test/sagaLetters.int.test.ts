import { encodeEnvelope, uuidv7, type DeadLetter } from '@herald/core';
import { findSaga, sagaEvents } from '@herald/saga';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { GROUPS, OrderCreated } from '../src/events.js';
import { TicketOrderSaga } from '../src/saga.js';
import type { OrderView } from '../src/schema.js';
import { createTicketOrders, type TicketOrders } from '../src/system.js';
import { eventually, postOrder, send } from './support/client.js';
import { tempDataDir } from './support/processes.js';

// The README's "A letter of order-service's saga that no deadline would end": a step's
// SagaDeadlineReached (or the OrderCreated) dead-lettered by order-service ends the order FAILED at
// once, when the saga would have applied it. A deadline the saga would have ignored (its step
// completed first: the timer fired as the answer came), or an OrderCreated of a saga that started
// after all, stalls nothing, and its letter must not fail an order that goes on.

// long enough that no deadline passes during the test: the letters are the only deadlines
const DEADLINE_MS = 120_000;
const data = tempDataDir('ticket-orders-saga-letters');
const running: TicketOrders[] = [];
const deadlines = sagaEvents(TicketOrderSaga.topic).SagaDeadlineReached;

afterAll(async () => {
  for (const system of running) await system.close();
  data.remove();
});

async function start(services: string): Promise<{ system: TicketOrders; url: string }> {
  const env = { HERALD_DATA_DIR: data.dir, HERALD_KAFKA_BROKERS: '', DATABASE_URL: '', HERALD_LOG_LEVEL: 'silent', PORT: '0', ORDER_STEP_DEADLINE_MS: String(DEADLINE_MS) };
  const system = await createTicketOrders(loadConfig(env, ['--service', services]), env);
  running.push(system);
  const { url } = await system.start();
  return { system, url: url! };
}

async function order(url: string, orderId: string): Promise<OrderView> {
  return JSON.parse((await send(`${url}/orders/${orderId}`)).text) as OrderView;
}

/** A dead letter of order-service's saga of this event of the order, as the pipeline records one. */
function sagaLetter(orderId: string, event: { id?: string; type: string; topic: string; data: unknown }, offset: number): DeadLetter {
  const now = Date.now();
  const envelope = { id: event.id ?? uuidv7(), type: event.type, version: 1, topic: event.topic, key: orderId, correlationId: orderId, causationId: null, occurredAt: new Date(now).toISOString(), headers: {}, data: event.data };
  return {
    id: uuidv7(),
    group: GROUPS.order,
    handler: `${GROUPS.order}:${TicketOrderSaga.name}`,
    eventId: envelope.id,
    eventType: envelope.type,
    topic: envelope.topic,
    partition: 0,
    offset,
    key: orderId,
    reason: 'store-unavailable',
    fingerprint: 'store-unavailable',
    error: { name: 'HeraldError', message: 'the store was unreachable' },
    attempts: 5,
    firstFailureAt: now,
    lastFailureAt: now,
    envelope: encodeEnvelope(envelope),
    headers: {},
    policy: 'skip',
    status: 'dead',
  };
}

/** order-service's letter of the deadline of `step` of the order's saga. */
const deadlineLetter = (orderId: string, step: string, deadlineAt: number, offset: number) =>
  sagaLetter(orderId, { type: deadlines.type, topic: deadlines.topic, data: { saga: TicketOrderSaga.name, instanceId: orderId, step, deadlineAt } }, offset);

describe("order-service's letters that would stall an order's saga", () => {
  it('end FAILED an order whose saga would have applied the event, and leave one whose saga went on (step completed, saga started) to TICKET_ISSUED', async () => {
    // no ticket-service: every saga waits in its ticket step, the payment step completed
    const first = await start('api,relay,payment,order');
    const ids: string[] = [];
    for (const seat of ['1A', '2B', '3C']) {
      const created = await postOrder(first.url, { customerId: 'c-1', flightId: 'SU700', seat, priceCents: 5_000 }, `saga-letters-${seat}`);
      expect(created.status).toBe(201);
      ids.push((JSON.parse(created.text) as { orderId: string }).orderId);
    }
    const [staleDeadline, stalled, started] = ids as [string, string, string];
    const sagas = await Promise.all(
      ids.map((id) =>
        eventually(async () => {
          const saga = await findSaga(first.system.app.stores, TicketOrderSaga, id);
          return saga?.steps[1]?.status === 'active' ? saga : undefined;
        }, 15_000, `order ${id} in its ticket step`),
      ),
    );
    const [payment, ticket] = [sagas[0]!.steps[0]!, sagas[1]!.steps[1]!];
    expect(payment.status).toBe('completed');
    const orderCreated = (await first.system.app.stores.outbox.findByCorrelation(started)).find((e) => e.type === OrderCreated.type)!;
    const letters = [
      // a deadline whose step had completed: the timer fired as the answer came
      deadlineLetter(staleDeadline, 'payment', payment.deadlineAt ?? payment.startedAt! + DEADLINE_MS, 1_000_000),
      // an OrderCreated the saga applied after all (redelivered after a crash that followed its letter)
      sagaLetter(started, { id: orderCreated.id, type: OrderCreated.type, topic: OrderCreated.topic, data: { orderId: started, customerId: 'c-1', flightId: 'SU700', seat: '3C', priceCents: 5_000 } }, 1_000_001),
      // last: once the pass has failed this one's order, it has looked at the others
      deadlineLetter(stalled, 'ticket', ticket.deadlineAt!, 1_000_002),
    ];
    for (const letter of letters) await first.system.app.stores.deadLetters.add(letter);
    await first.system.close();

    // order-service settles the letters it finds at start
    const second = await start('api,relay,payment,order');
    const failed = await eventually(async () => {
      const view = await order(second.url, stalled);
      return view.status === 'FAILED' ? view : undefined;
    }, 15_000, 'the order of the applicable deadline FAILED');
    expect(failed.reason).toBe(`${GROUPS.order}: SagaDeadlineReached dead-lettered (store-unavailable)`);
    for (const id of [staleDeadline, started]) expect(await order(second.url, id)).toMatchObject({ status: 'CREATED', reason: null, paymentStatus: 'AUTHORIZED' });
    await second.system.close();

    // ticket-service back: the orders the letters did not stop are ticketed, and keep their payments
    const third = await start('all');
    for (const id of [staleDeadline, started]) {
      const ended = await eventually(async () => {
        const view = await order(third.url, id);
        return view.status !== 'CREATED' ? view : undefined;
      }, 15_000, `order ${id} ended`);
      expect(ended).toMatchObject({ status: 'TICKET_ISSUED', reason: null, paymentStatus: 'AUTHORIZED', ticketStatus: 'ISSUED' });
    }
  });
});
