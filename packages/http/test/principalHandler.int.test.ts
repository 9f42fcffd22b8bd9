import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp, silentLogger, type Envelope, type SqlTx } from '@herald/core';
import { sqliteEngine } from '@herald/sqlite';
import { Type } from '@sinclair/typebox';
import { SignJWT } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { createGateway, jwtAuthenticator, principalOf } from '../src/index.js';
import { OrderPlaced } from './support.js';
import { AUDIENCE, ISSUER, bearer, signingKey } from './tokens.js';

const dir = mkdtempSync(join(tmpdir(), 'herald-http-principal-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the principal in a handler on the embedded engine', () => {
  it('reaches the handler of an event the authenticated request published, through the outbox, relay and log', async () => {
    const key = await signingKey('RS256', 'rsa-1');
    const auth = await jwtAuthenticator({ issuer: ISSUER, audience: AUDIENCE, keys: [{ kid: key.kid, alg: key.alg, key: key.publicJwk }] });
    const app = createApp<SqlTx>({ ...sqliteEngine({ dataDir: dir }), logger: silentLogger, relay: { idleMs: 5 } });
    let seen!: (event: Envelope) => void;
    const handled = new Promise<Envelope>((resolve) => (seen = resolve));
    app.on(OrderPlaced, { group: 'fulfilment' }, async (event) => seen(event));
    const gateway = createGateway<SqlTx>({ app, auth });
    gateway.command({
      method: 'POST',
      url: '/orders',
      body: Type.Object({ item: Type.String() }),
      status: 201,
      handle: async ({ body, publish }) => {
        await publish(OrderPlaced, { orderId: 'o-1', item: body.item });
        return { orderId: 'o-1' };
      },
    });
    await app.start();
    try {
      // a real token with a real lifetime: this test runs on the system clock
      const token = await new SignJWT({ roles: ['customer', 'vip'] })
        .setProtectedHeader({ alg: 'RS256', kid: key.kid })
        .setSubject('alice')
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setExpirationTime('5m')
        .sign(key.privateKey);
      const res = await gateway.fastify.inject({
        method: 'POST',
        url: '/orders',
        headers: { ...bearer(token), 'content-type': 'application/json', 'idempotency-key': 'k-1' },
        payload: { item: 'book' },
      });
      expect(res.statusCode).toBe(201);
      const event = await handled;
      expect(event.data).toEqual({ orderId: 'o-1', item: 'book' });
      expect(principalOf(event)).toEqual({ username: 'alice', roles: ['customer', 'vip'] });
      expect(event.headers).toMatchObject({ 'X-Username': 'alice', 'X-Roles': 'customer,vip' });
    } finally {
      await gateway.close();
      await app.close();
    }
  });
});
