import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { startTracing } from '@herald/tracing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { createTicketOrders, type TicketOrders } from '../src/system.js';
import { eventually, send } from './support/client.js';
import { FAST_ENV, tempDataDir } from './support/processes.js';

const CALLER_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN = '00f067aa0ba902b7';

/**
 * Issue 9's tracing "done when": one order through ticket-orders (embedded engine, HTTP on
 * loopback) with an in-memory span exporter, and the whole trace checked, parent by parent:
 * the caller's span → POST /orders → for each saga step create → send → process.
 */
describe('ticket-orders traced end to end', () => {
  const data = tempDataDir('tracing');
  const exporter = new InMemorySpanExporter();
  const sdk = startTracing({ exporter, processor: 'simple', register: false });
  let system: TicketOrders;
  let base: string;

  beforeAll(async () => {
    const config = loadConfig({ ...FAST_ENV, HERALD_LOG_LEVEL: 'warn' }, []);
    system = await createTicketOrders(config, { HERALD_DATA_DIR: data.dir }, { tracerProvider: sdk.provider });
    base = (await system.start()).url!;
  });
  afterAll(async () => {
    await system?.close();
    await sdk.shutdown();
    data.remove();
  });

  it('runs one trace from the HTTP request through every step of the saga, with the messaging attributes', async () => {
    const created = await send(`${base}/orders`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'idempotency-key': 'traced-1',
        'x-correlation-id': 'checkout-7',
        traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01`,
      },
      body: JSON.stringify({ customerId: 'c-1', flightId: 'SU100', seat: '3C', priceCents: 12_000 }),
    });
    expect(created.status).toBe(201);
    const { orderId } = JSON.parse(created.text) as { orderId: string };
    const trace = () => exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === CALLER_TRACE);
    // the order-service's process span ends once TICKET_ISSUED is committed; the saga's last
    // transitions, written in that transaction, are sent by the relay after it: wait for every
    // span the trace should have (one server span, create, send and process for each of three
    // events, order-service's two more process spans, the saga's four creates and sends)
    const expected = 1 + 3 * 3 + 2 + 4 * 2;
    await eventually(() => (trace().length >= expected ? true : undefined), 30_000, `the trace's ${expected} spans`);
    const spans = trace();
    const one = (name: string, parent: ReadableSpan | string, group?: string): ReadableSpan => {
      const parentId = typeof parent === 'string' ? parent : parent.spanContext().spanId;
      const found = spans.filter(
        (s) => s.name === name && s.parentSpanContext?.spanId === parentId && (group === undefined || s.attributes['messaging.consumer.group.name'] === group),
      );
      expect(found, `${name} under ${typeof parent === 'string' ? parent : parent.name}; trace: ${spans.map((s) => s.name).join(', ')}`).toHaveLength(1);
      return found[0]!;
    };

    const server = one('POST /orders', CALLER_SPAN);
    expect(server.attributes).toMatchObject({ 'http.request.method': 'POST', 'http.route': '/orders', 'http.response.status_code': 201 });

    const workflow = JSON.parse((await send(`${base}/orders/${orderId}/workflow`)).text) as { events: { type: string; eventId: string; topic: string }[] };
    expect(workflow.events.map((e) => e.type)).toEqual(['OrderCreated', 'PaymentAuthorized', 'TicketIssued']);
    const groups = { OrderCreated: 'payment-service', PaymentAuthorized: 'ticket-service', TicketIssued: 'order-service' } as Record<string, string>;

    let parent: ReadableSpan = server;
    for (const event of workflow.events) {
      const create = one(`create ${event.topic}`, parent);
      const sent = one(`send ${event.topic}`, create);
      // order-service's saga processes OrderCreated and PaymentAuthorized too: follow the service that answers
      const process = one(`process ${event.topic}`, sent, groups[event.type]);
      const common = { 'messaging.system': 'herald', 'messaging.destination.name': event.topic, 'messaging.herald.message.key': orderId };
      expect(create.attributes).toMatchObject({
        ...common,
        'messaging.operation.type': 'create',
        'messaging.message.id': event.eventId,
        'messaging.message.conversation_id': orderId,
        'herald.event.type': event.type,
      });
      expect(sent.attributes).toMatchObject({ ...common, 'messaging.operation.type': 'send' });
      expect(process.attributes).toMatchObject({
        ...common,
        'messaging.operation.type': 'process',
        'messaging.consumer.group.name': groups[event.type],
        'messaging.message.id': event.eventId,
        'messaging.message.conversation_id': orderId,
        'messaging.destination.partition.id': expect.stringMatching(/^\d$/),
        'messaging.herald.offset': expect.any(Number),
        'herald.event.type': event.type,
        'herald.delivery.outcome': 'applied',
        'herald.delivery.attempts': 1,
      });
      expect(process.links.map((l) => l.context.spanId)).toEqual([create.spanContext().spanId]);
      parent = process;
    }
    // the saga's part: order-service processes OrderCreated and PaymentAuthorized as well, and its
    // four transitions (started, two steps completed, completed) are each created and sent
    const sagaSpans = spans.filter((s) => s.name.endsWith(' ticket-order-saga'));
    expect(sagaSpans.map((s) => s.name).sort()).toEqual([...Array(4).fill('create ticket-order-saga'), ...Array(4).fill('send ticket-order-saga')]);
    expect(spans.filter((s) => s.name.startsWith('process ') && s.attributes['messaging.consumer.group.name'] === 'order-service')).toHaveLength(3);
    // nothing else in the trace
    expect(spans).toHaveLength(expected);
  });
});
