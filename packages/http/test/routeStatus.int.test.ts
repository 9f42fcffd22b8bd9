import { describe, expect, it } from 'vitest';
import { fixture, orderRows, PlaceOrder } from './support.js';

// A route's status is sent after its work committed: one fastify cannot send (a typo, 2010)
// would answer every committed request 500, and a client retrying what it was told failed (with
// no Idempotency-Key, or a new one) would apply it again. It is refused when declared.

describe("a route's status", () => {
  it.each([[2010], [0], [99], [101], [600], [201.5], ['201' as unknown as number]])('refuses status %j for a command with invalid-options, when it is declared', (status) => {
    const f = fixture();
    expect(() =>
      f.gateway.command({ method: 'POST', url: '/typo', body: PlaceOrder, idempotency: 'off', status, handle: async () => ({ ok: true }) }),
    ).toThrow(expect.objectContaining({ code: 'invalid-options', message: expect.stringContaining('POST /typo') }));
  });

  it.each([[2010], [199]])('refuses status %j for an ingest route with invalid-options', (status) => {
    const f = fixture();
    expect(() => f.gateway.ingest({ url: '/views', status, handle: async () => ({ ok: true }) })).toThrow(expect.objectContaining({ code: 'invalid-options' }));
  });

  it('takes a final status, and commits once what it answers with it', async () => {
    const f = fixture();
    f.gateway.command({
      method: 'POST', url: '/accepted', body: PlaceOrder, idempotency: 'off', status: 202,
      handle: async ({ tx, body }) => {
        tx.set('orders/a-1', body);
        return { ok: true };
      },
    });
    const response = await f.gateway.fastify.inject({ method: 'POST', url: '/accepted', payload: { item: 'book', quantity: 1 } });
    expect(response.statusCode).toBe(202);
    expect(await orderRows(f.stores)).toEqual(['orders/a-1']);
  });
});
