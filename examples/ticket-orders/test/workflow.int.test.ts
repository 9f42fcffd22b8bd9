import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { GROUPS } from '../src/events.js';
import { createTicketOrders, type TicketOrders } from '../src/system.js';
import type { Workflow } from '../src/workflow.js';
import { eventually, postOrder, send } from './support/client.js';
import { tempDataDir } from './support/processes.js';

// The README's "An order left CREATED": what GET /orders/{id}/workflow shows of an order whose
// OrderCreated order-service's saga dead-lettered, while payment-service and ticket-service go on.

const data = tempDataDir('ticket-orders-workflow');
const env = { HERALD_DATA_DIR: data.dir, HERALD_KAFKA_BROKERS: '', DATABASE_URL: '', HERALD_LOG_LEVEL: 'silent', PORT: '0', HERALD_RETRY_MAX_ATTEMPTS: '1' };
const running: TicketOrders[] = [];

async function start(extra: Record<string, string>, argv: string[]): Promise<{ system: TicketOrders; url: string }> {
  const system = await createTicketOrders(loadConfig({ ...env, ...extra }, argv), { ...env, ...extra });
  running.push(system);
  const { url } = await system.start();
  return { system, url: url! };
}

async function workflow(url: string, orderId: string): Promise<Workflow> {
  const answer = await send(`${url}/orders/${orderId}/workflow`);
  expect(answer.status).toBe(200);
  return JSON.parse(answer.text) as Workflow;
}

afterAll(async () => {
  for (const system of running) await system.close();
  data.remove();
});

describe('the workflow of an order whose OrderCreated the saga dead-lettered', () => {
  it('shows the saga awaiting-start, holding the later events, until the letter is redriven; then it completes', async () => {
    // order-service alone with the api and the relay, every handler attempt failing and dead-lettered at once
    const failing = await start({ HANDLER_FAILURE_RATE: '1' }, ['--service', 'api,relay,order']);
    const created = await postOrder(failing.url, { customerId: 'c-1', flightId: 'SU100', seat: '1A', priceCents: 5_000 }, 'workflow-1');
    expect(created.status).toBe(201);
    const { orderId } = JSON.parse(created.text) as { orderId: string };
    await eventually(async () => ((await failing.system.app.stores.deadLetters.list({ group: GROUPS.order, key: orderId })).length === 1 ? true : undefined), 15_000, 'the dead letter');
    // the saga has handled no event of the order: no instance yet
    expect((await workflow(failing.url, orderId)).saga).toBeNull();
    await failing.system.close();

    // everything, healthy: payment and ticket go on, and the saga keeps their events for the start it has not seen
    const healthy = await start({}, []);
    const waiting = await eventually(async () => {
      const view = await workflow(healthy.url, orderId);
      const issued = view.events.find((e) => e.type === 'TicketIssued');
      return issued?.consumers.every((c) => c.processed) ? view : undefined;
    }, 15_000, 'TicketIssued handled by order-service');
    expect(waiting.order.status).toBe('CREATED');
    expect(waiting.saga).toEqual({
      status: 'awaiting-start',
      steps: [
        { name: 'payment', status: 'waiting', endedAt: null, reason: null },
        { name: 'ticket', status: 'waiting', endedAt: null, reason: null },
      ],
      startedAt: null,
      endedAt: null,
    });
    expect(waiting.events.map((e) => [e.type, e.consumers.find((c) => c.group === GROUPS.order)?.processed])).toEqual([
      ['OrderCreated', false],
      ['PaymentAuthorized', true],
      ['TicketIssued', true],
    ]);

    // the letter redriven: the saga starts, applies what it kept, and the order ends TICKET_ISSUED
    expect(await healthy.system.app.redrive({ group: GROUPS.order })).toMatchObject({ redriven: 1, failed: 0 });
    const done = await eventually(async () => {
      const view = await workflow(healthy.url, orderId);
      return view.order.status === 'TICKET_ISSUED' ? view : undefined;
    }, 15_000, 'the order TICKET_ISSUED');
    expect(done.saga).toMatchObject({ status: 'completed', steps: [{ name: 'payment', status: 'completed' }, { name: 'ticket', status: 'completed' }] });
  });
});
