import { request as httpRequest } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_TIMER_MS } from '@herald/core';
import { fixture, gate, type Fixture } from './support.js';

/** POST /orders on its own connection: the status, or the network error's code when the connection is cut. */
function placeOrder(url: string, key: string): Promise<number | string> {
  return new Promise((resolve) => {
    const req = httpRequest(`${url}/orders`, { method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'idempotency-key': key } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    req.end(JSON.stringify({ item: 'book', quantity: 1 }));
  });
}

describe('the shutdown deadline, a timer', () => {
  let f: Fixture | undefined;
  afterEach(async () => {
    f?.hold?.open();
    await f?.gateway.close({ deadlineMs: 100 });
    f = undefined;
  });

  it('close({ deadlineMs: Infinity }) waits for a request in flight, as long as it takes, rather than cutting it after 1 ms', async () => {
    f = fixture();
    const { url } = await f.gateway.listen({ port: 0 });
    f.hold = gate();
    const answer = placeOrder(url, 'inf-1');
    await until(() => f!.runs.count === 1);
    const closed = f.gateway.close({ deadlineMs: Number.POSITIVE_INFINITY });
    // Node runs a timer longer than MAX_TIMER_MS after 1 ms: the request would be cut by now
    await new Promise((resolve) => setTimeout(resolve, 200));
    f.hold.open();
    expect(await answer).toBe(201);
    await closed;
  });

  it.each([[-1], [Number.NaN], ['soon' as unknown as number]])('refuses close({ deadlineMs: %j }) with invalid-options, and closes nothing', async (deadlineMs) => {
    f = fixture();
    const { url } = await f.gateway.listen({ port: 0 });
    await expect(f.gateway.close({ deadlineMs })).rejects.toMatchObject({ code: 'invalid-options' });
    // still serving
    expect(await placeOrder(url, 'after-refused-close')).toBe(201);
  });

  it.each([
    [{ shutdown: { deadlineMs: MAX_TIMER_MS + 1 } }],
    [{ shutdown: { readinessGraceMs: MAX_TIMER_MS + 1 } }],
    [{ idempotency: { purgeIntervalMs: MAX_TIMER_MS + 1 } }],
  ])('refuses %j, a timer Node would fire after 1 ms', (options) => {
    expect(() => fixture(options)).toThrow(expect.objectContaining({ code: 'invalid-options', message: expect.stringContaining(String(MAX_TIMER_MS)) }));
  });
});

async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
