import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, problemCode, send, type Answer } from './support/client.js';
import { startExample, stopExample, tempDataDir, type ExampleProcess } from './support/processes.js';
import { LIMIT_CENTS } from './support/scenario.js';

/** The HTTP contract of issue 3, driven against the example as a real server on loopback. */
describe('ticket-orders HTTP contract', () => {
  const data = tempDataDir('http');
  let example: ExampleProcess;
  let base: string;
  let seq = 0;
  const order = (overrides: Record<string, unknown> = {}) => ({ customerId: 'c-1', flightId: 'SU100', seat: `${++seq}A`, priceCents: 12_500, ...overrides });
  const post = (body: unknown, key: string | undefined, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
    send(`${base}/orders`, { method: 'POST', headers: key === undefined ? headers : { ...headers, 'idempotency-key': key }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const get = (path: string) => send(`${base}${path}`);
  const waitStatus = (orderId: string, status: string) =>
    eventually(async () => {
      const current = JSON.parse((await get(`/orders/${orderId}`)).text) as { status: string };
      return current.status === status ? current : undefined;
    }, 30_000, `order ${orderId} ${status}`);

  beforeAll(async () => {
    example = await startExample({ dataDir: data.dir, env: { PAYMENT_LIMIT_CENTS: String(LIMIT_CENTS), HERALD_READINESS_GRACE_MS: '1500' } });
    base = example.url!;
  });
  afterAll(async () => {
    await stopExample(example);
    data.remove();
  });

  function expectProblem(answer: Answer, status: number, code: string, instance = '/orders'): Record<string, unknown> {
    expect(answer.status).toBe(status);
    expect(answer.contentType).toBe('application/problem+json');
    const problem = JSON.parse(answer.text) as Record<string, unknown>;
    expect(problem).toMatchObject({ type: `urn:herald:problem:${code}`, status, code, instance, title: expect.any(String), detail: expect.any(String) });
    return problem;
  }

  it('creates an order (201), shows it, and runs its saga to TICKET_ISSUED', async () => {
    const created = await post(order({ seat: '1A' }), 'create-1');
    expect(created.status).toBe(201);
    const body = JSON.parse(created.text) as { orderId: string; status: string };
    expect(body).toEqual({ orderId: expect.any(String), status: 'CREATED' });
    expect(created.location).toBe(`/orders/${body.orderId}`);
    const final = await waitStatus(body.orderId, 'TICKET_ISSUED');
    expect(final).toEqual({
      orderId: body.orderId,
      status: 'TICKET_ISSUED',
      reason: null,
      customerId: 'c-1',
      flightId: 'SU100',
      seat: '1A',
      priceCents: 12_500,
      paymentId: expect.any(String),
      paymentStatus: 'AUTHORIZED',
      ticketId: expect.any(String),
      ticketStatus: 'ISSUED',
    });
    const workflow = JSON.parse((await get(`/orders/${body.orderId}/workflow`)).text) as { order: unknown; saga: unknown; events: Record<string, unknown>[] };
    expect(workflow.order).toEqual(final);
    expect(workflow.events.map((e) => e['type'])).toEqual(['OrderCreated', 'PaymentAuthorized', 'TicketIssued']);
    expect(workflow.events[0]).toEqual({
      type: 'OrderCreated',
      eventId: expect.any(String),
      causationId: null,
      topic: 'orders',
      key: body.orderId,
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      published: true,
      publishedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      consumers: [
        { group: 'payment-service', processed: true, processedAt: expect.any(String) },
        { group: 'order-service', processed: true, processedAt: expect.any(String) },
      ],
    });
    // the saga's view of the order
    expect(workflow.saga).toMatchObject({ status: 'completed', steps: [{ name: 'payment', status: 'completed' }, { name: 'ticket', status: 'completed' }] });
  });

  it('replays the first response for the same key and body', async () => {
    const body = order();
    const first = await post(body, 'same-1');
    const again = await post({ priceCents: body.priceCents, seat: body.seat, flightId: body.flightId, customerId: body.customerId }, 'same-1');
    expect(again).toMatchObject({ status: first.status, text: first.text, replayed: true, location: first.location });
    expect(first.replayed).toBe(false);
  });

  it('answers 422 for the same key with a different body', async () => {
    await post(order(), 'reuse-1');
    expectProblem(await post(order(), 'reuse-1'), 422, 'idempotency-key-reused');
  });

  it('answers 409 for the same key while the first request is in flight', async () => {
    let seen: Answer | undefined;
    for (let round = 0; round < 20 && !seen; round++) {
      const body = order();
      const answers = await Promise.all(Array.from({ length: 8 }, () => post(body, `race-${round}`)));
      const created = answers.filter((a) => a.status === 201);
      expect(created.length + answers.filter((a) => a.status === 409).length).toBe(answers.length);
      expect(new Set(created.map((a) => a.text)).size).toBe(1);
      expect(created.filter((a) => !a.replayed)).toHaveLength(1);
      seen = answers.find((a) => a.status === 409);
    }
    expect(seen, 'no request overlapped another in 20 rounds').toBeDefined();
    expectProblem(seen!, 409, 'idempotency-key-in-flight');
  });

  it('answers 400 without an Idempotency-Key or with an invalid one', async () => {
    expectProblem(await post(order(), undefined), 400, 'idempotency-key-missing');
    expectProblem(await post(order(), 'k'.repeat(256)), 400, 'idempotency-key-invalid');
    expectProblem(await post(order(), '\u00e9t\u00e9'), 400, 'idempotency-key-invalid');
  });

  it('answers 400 for malformed JSON', async () => {
    expectProblem(await post('{"customerId": "c-1", ', 'bad-json'), 400, 'malformed-json');
  });

  it('answers 413 for a body over 64 KiB', async () => {
    expectProblem(await post(order({ customerId: 'x'.repeat(65 * 1024) }), 'too-big'), 413, 'payload-too-large');
  });

  it('answers 415 for a wrong or missing content type', async () => {
    expectProblem(await post(order(), 'ct-1', { 'content-type': 'text/plain' }), 415, 'unsupported-media-type');
    expectProblem(await post(order(), 'ct-2', { 'content-type': 'application/xml' }), 415, 'unsupported-media-type');
    expectProblem(await send(`${base}/orders`, { method: 'POST', headers: { 'idempotency-key': 'ct-3' } }), 415, 'unsupported-media-type');
  });

  it('answers 422 listing missing, extra and wrongly typed fields', async () => {
    const problem = expectProblem(await post({ customerId: 'c-1', flightId: 7, priceCents: 'ten', meal: 'veg' }, 'schema-1'), 422, 'schema-violation');
    const errors = problem['errors'] as { path: string; message: string }[];
    expect(errors.map((e) => e.path).sort()).toEqual(['/flightId', '/meal', '/priceCents', '/seat']);
    expect(errors.find((e) => e.path === '/seat')!.message).toMatch(/required/i);
    expect(errors.find((e) => e.path === '/meal')!.message).toMatch(/unexpected/i);
    expect(errors.find((e) => e.path === '/flightId')!.message).toMatch(/string/i);
    expect(errors.find((e) => e.path === '/priceCents')!.message).toMatch(/integer/i);
    for (const priceCents of [0, -5, 1.5]) {
      const bad = expectProblem(await post(order({ priceCents }), `schema-price-${priceCents}`), 422, 'schema-violation');
      expect((bad['errors'] as { path: string }[]).map((e) => e.path)).toEqual(['/priceCents']);
    }
    expectProblem(await post('[]', 'schema-array'), 422, 'schema-violation');
  });

  it('answers 422 for a blank customerId', async () => {
    for (const [i, customerId] of [' ', ' \t\n ', '\u00a0\u3000'].entries()) {
      const blank = expectProblem(await post(order({ customerId }), `blank-customer-${i}`), 422, 'schema-violation');
      expect((blank['errors'] as { path: string }[]).map((e) => e.path)).toEqual(['/customerId']);
    }
    expect((await post(order({ customerId: ' c-1 ' }), 'padded-customer')).status).toBe(201);
  });

  it('answers 409 when the seat is held by a live order', async () => {
    const first = await post(order({ flightId: 'SU200', seat: '7C' }), 'seat-1');
    expect(first.status).toBe(201);
    const taken = expectProblem(await post(order({ flightId: 'SU200', seat: '7C', customerId: 'c-2' }), 'seat-2'), 409, 'seat-held');
    expect(taken['detail']).toBe('seat 7C on flight SU200 is held by another order');
  });

  it('sells one seat once, however it is spelt: only the canonical seat and flight are accepted (422 otherwise)', async () => {
    // the live-seat index compares raw text: each of these spellings was another seat, and sold
    const seats = ['12C', '12c', ' 12C', '12C\u0000', '\uff11\uff12C'];
    const bySeat = await Promise.all(seats.map((seat, i) => post(order({ flightId: 'SU400', seat }), `spelt-seat-${i}`)));
    // SU0400 is flight 400 of SU too: a flight number is written without leading zeros
    const flights = ['su400', 'SU-400', ' SU400', 'SU400\u0000', '\uff33\uff35400', 'SU0400', 'SU00400'];
    const byFlight = await Promise.all(flights.map((flightId, i) => post(order({ flightId, seat: '12C' }), `spelt-flight-${i}`)));
    expect([...bySeat, ...byFlight].map((a) => a.status)).toEqual([201, 422, 422, 422, 422, 422, 422, 422, 422, 422, 422, 422]);
    for (const [answers, path] of [[bySeat.slice(1), '/seat'], [byFlight, '/flightId']] as const) {
      for (const refused of answers) {
        const problem = expectProblem(refused, 422, 'schema-violation');
        expect((problem['errors'] as { path: string }[]).map((e) => e.path)).toEqual([path]);
      }
    }
    const { orderId } = JSON.parse(bySeat[0]!.text) as { orderId: string };
    expect(await waitStatus(orderId, 'TICKET_ISSUED')).toMatchObject({ flightId: 'SU400', seat: '12C' });
    expectProblem(await post(order({ flightId: 'SU400', seat: '12C', customerId: 'c-2' }), 'spelt-again'), 409, 'seat-held');
  });

  it('declines a payment over the limit, cancels the order and releases its seat', async () => {
    const expensive = await post(order({ flightId: 'SU300', seat: '9F', priceCents: LIMIT_CENTS + 1 }), 'decline-1');
    const { orderId } = JSON.parse(expensive.text) as { orderId: string };
    const cancelled = await waitStatus(orderId, 'CANCELLED');
    expect(cancelled).toMatchObject({ reason: 'payment: amount over the payment limit', paymentId: expect.any(String), paymentStatus: 'DECLINED', ticketId: null, ticketStatus: null });
    const workflow = JSON.parse((await get(`/orders/${orderId}/workflow`)).text) as { saga: unknown; events: { type: string; consumers: { group: string; processed: boolean }[] }[] };
    expect(workflow.events.map((e) => e.type)).toEqual(['OrderCreated', 'PaymentDeclined']);
    expect(workflow.events[1]!.consumers).toEqual([{ group: 'order-service', processed: true, processedAt: expect.any(String) }]);
    expect(workflow.saga).toMatchObject({ status: 'failed', steps: [{ name: 'payment', status: 'failed', reason: 'amount over the payment limit' }, { name: 'ticket', status: 'waiting' }] });
    const rebooked = await post(order({ flightId: 'SU300', seat: '9F', customerId: 'c-3' }), 'decline-2');
    expect(rebooked.status).toBe(201);
    await waitStatus((JSON.parse(rebooked.text) as { orderId: string }).orderId, 'TICKET_ISSUED');
  });

  it('answers 404 problem+json for an unknown order, its workflow and unknown routes', async () => {
    expect(problemCode(await get('/orders/nope'))).toBe('order-not-found');
    expectProblem(await get('/orders/nope'), 404, 'order-not-found', '/orders/nope');
    expectProblem(await get('/orders/nope/workflow'), 404, 'order-not-found', '/orders/nope/workflow');
    expectProblem(await get('/nowhere'), 404, 'not-found', '/nowhere');
    // an id of a shape no order has is unknown too, not a schema violation; past the gateway's limit the path is too long
    for (const id of ['x'.repeat(101), 'y'.repeat(384), '%20']) {
      expectProblem(await get(`/orders/${id}`), 404, 'order-not-found', `/orders/${id}`);
      expectProblem(await get(`/orders/${id}/workflow`), 404, 'order-not-found', `/orders/${id}/workflow`);
    }
    expect((await get(`/orders/${'z'.repeat(385)}`)).status).toBe(414);
  });

  it('is live and ready, then not ready while draining on SIGTERM, and exits cleanly', async () => {
    expect((await get('/livez')).status).toBe(200);
    const ready = await get('/readyz');
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.text)).toEqual({ status: 'ready' });
    example.kill('SIGTERM');
    const draining = await eventually(async () => {
      const answer = await get('/readyz');
      return answer.status === 503 ? answer : undefined;
    }, 1_000, '/readyz to answer 503');
    expectProblem(draining, 503, 'unavailable', '/readyz');
    expect((await get('/livez')).status).toBe(200);
    expect(await example.exited).toBe(0);
  });
});

