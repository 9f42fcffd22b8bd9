import { createApp, createManualClock, silentLogger } from '@herald/core';
import type { App } from '@herald/core';
import { memoryBroker, memoryStores } from '@herald/testing';
import type { MemoryStores, MemoryTx } from '@herald/testing';
import { createGateway, jwtAuthenticator, type Gateway, type JwtOptions } from '../src/index.js';
import { OrderPlaced, PlaceOrder } from './support.js';
import { AUDIENCE, ISSUER, NOW_MS } from './tokens.js';

export interface AuthFixture {
  readonly app: App<MemoryTx>;
  readonly stores: MemoryStores;
  readonly gateway: Gateway<MemoryTx>;
  readonly runs: { count: number };
  close(): Promise<void>;
}

/**
 * A gateway with JWT auth (issuer, audience and a manual clock at NOW_MS preset) on the in-memory
 * engine: POST /orders (publishes OrderPlaced, answers the caller's name), GET /me, GET /admin
 * (role admin or ops), GET /open (authentication off) and GET /maybe (optional).
 */
export async function authFixture(jwt: Partial<JwtOptions>): Promise<AuthFixture> {
  const clock = createManualClock(NOW_MS);
  const auth = await jwtAuthenticator({ issuer: ISSUER, audience: AUDIENCE, clock, ...jwt });
  const stores = memoryStores({ clock });
  const app = createApp<MemoryTx>({ broker: memoryBroker(), stores, clock, logger: silentLogger });
  const gateway = createGateway<MemoryTx>({ app, auth });
  const runs = { count: 0 };
  gateway.command({
    method: 'POST',
    url: '/orders',
    body: PlaceOrder,
    status: 201,
    handle: async ({ body, tx, publish, principal }) => {
      const orderId = `o-${++runs.count}`;
      tx.set(`orders/${orderId}`, { orderId, ...body });
      // a handler cannot pass itself off as someone else: the gateway's headers win
      await publish(OrderPlaced, { orderId, item: body.item }, { correlationId: orderId, headers: { 'X-Username': 'mallory', note: 'kept' } });
      return { orderId, username: principal?.username ?? null };
    },
  });
  gateway.query({ url: '/me', handle: async ({ principal }) => ({ username: principal?.username, roles: principal?.roles }) });
  gateway.query({ url: '/admin', roles: ['admin', 'ops'], handle: async ({ principal }) => ({ admin: principal?.username }) });
  gateway.query({ url: '/open', authentication: 'off', handle: async ({ principal }) => ({ principal: principal ?? null }) });
  gateway.query({ url: '/maybe', authentication: 'optional', handle: async ({ principal }) => ({ username: principal?.username ?? null }) });
  return {
    app,
    stores,
    gateway,
    runs,
    async close() {
      await gateway.close();
      await app.close();
    },
  };
}
