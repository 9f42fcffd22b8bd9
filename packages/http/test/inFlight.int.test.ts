import { afterEach, describe, expect, it } from 'vitest';
import { fixture, gate, type Fixture } from './support.js';

/** POST /orders with a fresh Idempotency-Key, over a real connection. */
function placeOrder(url: string, key: string, signal?: AbortSignal): Promise<Response> {
  return fetch(`${url}/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': key },
    body: JSON.stringify({ item: 'book', quantity: 1 }),
    ...(signal ? { signal } : {}),
  });
}

async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('maxRequestsInFlight on a real listener', () => {
  let f: Fixture | undefined;
  afterEach(async () => {
    f?.hold?.open();
    await f?.gateway.close({ deadlineMs: 100 });
    f = undefined;
  });

  it('answers a request beyond the bound 503 overloaded with Retry-After, serves the probes, and admits again once requests finish', async () => {
    f = fixture({ maxRequestsInFlight: 2 });
    const { url } = await f.gateway.listen({ port: 0, host: '127.0.0.1' });
    f.gateway.markReady();
    const held = (f.hold = gate());
    const first = placeOrder(url, 'k1');
    const second = placeOrder(url, 'k2');
    await until(() => f!.runs.count === 2);

    const third = await placeOrder(url, 'k3');
    expect(third.status).toBe(503);
    expect(third.headers.get('retry-after')).toBe('1');
    expect(third.headers.get('content-type')).toBe('application/problem+json');
    expect(await third.json()).toMatchObject({ status: 503, code: 'overloaded', detail: expect.stringContaining('2 requests in flight') });
    expect(f.runs.count).toBe(2);
    // the probes answer at the bound: an orchestrator must not kill or unroute a busy service for it
    expect((await fetch(`${url}/livez`)).status).toBe(200);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);

    held.open();
    expect((await first).status).toBe(201);
    expect((await second).status).toBe(201);
    f.hold = undefined;
    expect((await placeOrder(url, 'k4')).status).toBe(201);
  });

  it('releases a place when the client goes away, though the route still runs', async () => {
    f = fixture({ maxRequestsInFlight: 1 });
    const { url } = await f.gateway.listen({ port: 0, host: '127.0.0.1' });
    f.hold = gate();
    const client = new AbortController();
    const abandoned = placeOrder(url, 'k1', client.signal).catch((error: unknown) => error);
    await until(() => f!.runs.count === 1);
    expect((await fetch(`${url}/orders/o-9`)).status).toBe(503);

    client.abort();
    await abandoned;
    await until(async () => (await fetch(`${url}/orders/o-9`)).status === 404);
  });

  it('refuses a bound that is not a positive integer with invalid-options', () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      expect(() => fixture({ maxRequestsInFlight: bad })).toThrow(expect.objectContaining({ code: 'invalid-options', message: expect.stringContaining('maxRequestsInFlight') }));
    }
  });
});
