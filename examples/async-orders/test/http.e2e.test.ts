import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uuidv7 } from '@herald/core';
import { loadConfig } from '../src/config.js';
import { OrderCreationRequested } from '../src/events.js';
import { loadSigningKey, TOKEN_AUDIENCE, TOKEN_ISSUER } from '../src/services/auth.js';
import { createAsyncOrders, type AsyncOrders } from '../src/system.js';
import { Customer, eventually, orderBody, problemCode, send, type Answer } from './support/client.js';
import { inProcessEnv } from './support/processes.js';

// Seed 004's HTTP contract on one process (every service) on the embedded engine.

const dir = mkdtempSync(join(tmpdir(), 'herald-async-orders-http-'));
const env = inProcessEnv(dir, { HERALD_INSTANCE_ID: 'http-test' });
let system: AsyncOrders;
let url: string;
/** Whether the gateway accepted connections while the app started its components (the event waiter among them). */
let listeningWhileAppStarted: boolean | undefined;

beforeAll(async () => {
  system = await createAsyncOrders(loadConfig(env, []), env);
  system.app.use({ name: 'start-probe', start: async () => void (listeningWhileAppStarted = system.gateway!.fastify.server.listening), close: async () => undefined });
  url = (await system.start()).url!;
}, 60_000);
afterAll(async () => {
  await system?.close();
  rmSync(dir, { recursive: true, force: true });
});

function expectProblem(answer: Answer, status: number, code: string): void {
  expect({ status: answer.status, contentType: answer.contentType, code: problemCode(answer) }).toEqual({ status, contentType: 'application/problem+json', code });
}

describe('auth', () => {
  it('registers (201), refuses a taken name (409) and bad bodies (422), and logs in with the password only', async () => {
    const body = { username: 'ann', email: 'ann@example.com', password: 'a long password' };
    const registered = await send(`${url}/auth/register`, { method: 'POST', body });
    expect(registered.status).toBe(201);
    expect(registered.body).toEqual({ username: 'ann' });
    expectProblem(await send(`${url}/auth/register`, { method: 'POST', body: { ...body, email: 'other@example.com' } }), 409, 'username-taken');
    expectProblem(await send(`${url}/auth/register`, { method: 'POST', body: { username: 'bob', email: 'not-an-email', password: 'a long password' } }), 422, 'schema-violation');
    expectProblem(await send(`${url}/auth/register`, { method: 'POST', body: { username: 'bob', email: 'bob@example.com', password: 'short' } }), 422, 'schema-violation');
    expectProblem(await send(`${url}/auth/register`, { method: 'POST', body: 'not json{' }), 400, 'malformed-json');

    const login = await send(`${url}/auth/login`, { method: 'POST', body: { username: 'ann', password: 'a long password' } });
    expect(login.status).toBe(200);
    expect(login.body).toEqual({ accessToken: expect.any(String), tokenType: 'Bearer', expiresIn: 3600 });
    expectProblem(await send(`${url}/auth/login`, { method: 'POST', body: { username: 'ann', password: 'a wrong password' } }), 401, 'invalid-credentials');
    expectProblem(await send(`${url}/auth/login`, { method: 'POST', body: { username: 'nobody', password: 'a long password' } }), 401, 'invalid-credentials');

    // the password is stored as a salted scrypt hash, never as given
    const [row] = await system.engine.stores.transaction((tx) => tx.query<{ password_hash: string }>("SELECT password_hash FROM auth_users WHERE username = 'ann'"));
    expect(row!.password_hash).toMatch(/^scrypt\$32768\$8\$1\$[\w-]{22}\$[\w-]{43}$/);
  });

  it('serves the public key at /.well-known/jwks.json, and the gateway takes only tokens it signed, unexpired, with the role', async () => {
    const jwks = await send(`${url}/.well-known/jwks.json`);
    expect(jwks.status).toBe(200);
    const [key] = (jwks.body as { keys: Record<string, string>[] }).keys;
    expect(key).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig', kid: expect.any(String) });
    expect(key).not.toHaveProperty('d'); // no private part

    const signing = await loadSigningKey(system.engine.stores, system.app.clock);
    const now = Math.floor(Date.now() / 1000);
    const token = (claims: Record<string, unknown>, exp: number) =>
      new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: signing.kid }).setSubject('ann').setIssuer(TOKEN_ISSUER).setAudience(TOKEN_AUDIENCE).setExpirationTime(exp).sign(signing.privateKey);
    const balance = (bearer: string | undefined) => send(`${url}/billing/balance`, bearer === undefined ? {} : { headers: { authorization: `Bearer ${bearer}` } });

    expectProblem(await balance(undefined), 401, 'authentication-required');
    expectProblem(await balance('not-a-jwt'), 401, 'authorization-malformed');
    expectProblem(await balance(await token({ roles: ['customer'] }, now - 10)), 401, 'token-expired');
    expectProblem(await balance(await token({ roles: ['admin'] }, now + 60)), 403, 'forbidden');
    const valid = await token({ roles: ['customer'] }, now + 60);
    const tampered = `${valid.slice(0, valid.lastIndexOf('.'))}.${Buffer.alloc(64, 1).toString('base64url')}`;
    expectProblem(await balance(tampered), 401, 'token-signature-invalid');
    await eventually(async () => ((await balance(valid)).status === 200 ? true : undefined), 10_000, 'the account to open');
  });
});

describe('billing and orders', () => {
  it('deposits (200 with the balance, once per key) and reads the balance', async () => {
    const carol = await new Customer(url, 'carol').signUp();
    const first = await carol.deposit(2_500, 'dep-1');
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ balanceCents: 12_500 });
    const again = await carol.deposit(2_500, 'dep-1');
    expect({ status: again.status, body: again.body, replayed: again.replayed }).toEqual({ status: 200, body: { balanceCents: 12_500 }, replayed: true });
    expectProblem(await carol.deposit(3_000, 'dep-1'), 422, 'idempotency-key-reused');
    expectProblem(await carol.deposit(0, 'dep-2'), 422, 'schema-violation');
    expect((await carol.get('/billing/balance')).body).toEqual({ balanceCents: 12_500 });
  });

  it('answers an order with its final status (201), the same answer to the same key, and 422 to the same key with another body', async () => {
    const dave = await new Customer(url, 'dave').signUp();
    const paid = await dave.order(orderBody(3_000, 2), 'ord-1');
    expect(paid.status).toBe(201);
    const body = paid.body as { orderId: string; requestId: string };
    expect(paid.body).toEqual({ orderId: expect.any(String), requestId: expect.any(String), status: 'PAID', totalCents: 6_000 });
    const again = await dave.order(orderBody(3_000, 2), 'ord-1');
    expect({ status: again.status, body: again.body, replayed: again.replayed }).toEqual({ status: 201, body: paid.body, replayed: true });
    expectProblem(await dave.order(orderBody(3_000, 3), 'ord-1'), 422, 'idempotency-key-reused');
    expectProblem(await send(`${url}/orders`, { method: 'POST', headers: { authorization: `Bearer ${dave.token}` }, body: orderBody(3_000) }), 400, 'idempotency-key-missing');
    expectProblem(await dave.order({ items: [], deliveryAddress: 'x', paymentMethod: 'y' }, 'ord-2'), 422, 'schema-violation');

    // 10 000 + 0 deposits - 6 000: 4 000 left, so 5 000 is refused
    const refused = await dave.order(orderBody(5_000), 'ord-3');
    expect(refused.status).toBe(201);
    expect(refused.body).toMatchObject({ status: 'INSUFFICIENT_FUNDS', totalCents: 5_000 });
    expect((await dave.get('/billing/balance')).body).toEqual({ balanceCents: 4_000 });

    const byRequest = await dave.get(`/requests/${body.requestId}`);
    expect(byRequest.body).toEqual({
      requestId: body.requestId,
      orderId: body.orderId,
      status: 'PAID',
      totalCents: 6_000,
      history: [
        { status: 'PENDING', at: expect.any(Number) },
        { status: 'PAID', at: expect.any(Number) },
      ],
    });
    expect((await dave.get(`/orders/${body.orderId}`)).body).toEqual(byRequest.body);

    // nobody else sees them
    const eve = await new Customer(url, 'eve').signUp();
    expectProblem(await eve.get(`/requests/${body.requestId}`), 404, 'request-not-found');
    expectProblem(await eve.get(`/orders/${body.orderId}`), 404, 'order-not-found');
    // an id of a shape no order has is unknown too, not a schema violation
    for (const id of ['x'.repeat(101), '%20']) {
      expectProblem(await eve.get(`/requests/${id}`), 404, 'request-not-found');
      expectProblem(await eve.get(`/orders/${id}`), 404, 'order-not-found');
      expectProblem(await eve.get(`/billing/deposits/${id}`), 404, 'deposit-not-found');
    }

    // one notification per final status, after the welcome; the contact came from the user service
    const notifications = await eventually(async () => {
      const list = ((await dave.get('/notifications')).body as { notifications: { type: string; orderId: string | null }[] }).notifications;
      return list.length === 3 ? list : undefined;
    }, 15_000, 'three notifications');
    expect(notifications.map((n) => n.type)).toEqual(['WELCOME', 'ORDER_PAID', 'ORDER_INSUFFICIENT_FUNDS']);
    expect(notifications[1]).toMatchObject({ orderId: body.orderId, subject: expect.any(String), content: expect.stringContaining('60.00'), notificationId: expect.any(String), sentAt: expect.any(Number) });
    // eve sees her own welcome and nothing else: dave's three notifications, all stored by now, are not hers
    const eves = await eventually(async () => {
      const list = ((await eve.get('/notifications')).body as { notifications: { type: string }[] }).notifications;
      return list.length > 0 ? list : undefined;
    }, 15_000, 'eve’s welcome');
    expect(eves.map((n) => n.type)).toEqual(['WELCOME']);
  });

  it('refuses blank text, a payment method billing does not take, unknown item fields and a total over the limit (422 naming each field), and stores only an item\'s known fields', async () => {
    const frank = await new Customer(url, 'frank').signUp();
    const item = { sku: 'book', quantity: 1, priceCents: 1_000 };
    const body = { items: [item], deliveryAddress: '1 Main Street', paymentMethod: 'balance' };
    const refused: [string, unknown, string, RegExp][] = [
      ['blank sku', { ...body, items: [{ ...item, sku: ' \t ' }] }, '/items/0/sku', /match/],
      ['blank address', { ...body, deliveryAddress: '  \n ' }, '/deliveryAddress', /match/],
      ['blank method', { ...body, paymentMethod: '   ' }, '/paymentMethod', /'balance'/],
      ['unknown method', { ...body, paymentMethod: 'card' }, '/paymentMethod', /'balance'/],
      ['extra item field', { ...body, items: [item, { ...item, sku: 'pen', giftWrap: true }] }, '/items/1/giftWrap', /unexpected/i],
      // each item within its limits, the order over its total's: the rule the order service applies too
      ['total over the limit', { ...body, items: [item, { sku: 'gold', quantity: 1_000, priceCents: 100_000_000 }] }, '/items', /exceeds the limit/],
    ];
    for (const [name, bad, path, message] of refused) {
      const answer = await frank.order(bad, `frank-${name}`);
      expectProblem(answer, 422, 'schema-violation');
      const errors = (answer.body as { errors: { path: string; message: string }[] }).errors;
      expect(errors.map((e) => e.path), name).toEqual([path]);
      expect(errors[0]!.message, name).toMatch(message);
    }
    expect((await frank.order(body, 'frank-ok')).body).toMatchObject({ status: 'PAID' });

    // an order request as an earlier gateway let it through: the order keeps the item's fields, not the rest
    const requestId = uuidv7();
    const items = [{ ...item, giftWrap: true, note: 'ring twice' }];
    await system.app.publish(OrderCreationRequested, { requestId, username: 'frank', items, deliveryAddress: '1 Main Street', paymentMethod: 'balance', createdAt: Date.now() }, { correlationId: requestId });
    const stored = await eventually(async () => {
      const [row] = await system.engine.stores.transaction((tx) => tx.query<{ items: string }>('SELECT items FROM orders WHERE request_id = $1', [requestId]));
      return row ? (JSON.parse(row.items) as unknown) : undefined;
    }, 10_000, 'the order');
    expect(stored).toEqual([item]);
  });

  it('takes no request before the app started: an order then would find the event waiter not started and be answered 202, not from its status', () => {
    expect(listeningWhileAppStarted).toBe(false);
  });

  it('serves health and metrics', async () => {
    expect((await send(`${url}/livez`)).status).toBe(200);
    expect((await send(`${url}/readyz`)).status).toBe(200);
    const metrics = await send(`${url}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.text).toMatch(/herald_saga_transitions_total\{[^}]*saga="order"[^}]*\} [1-9]/);
  });
});
