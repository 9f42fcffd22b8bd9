import { createApp, HeraldError, silentLogger } from '@herald/core';
import { memoryBroker, memoryStores, type MemoryTx } from '@herald/testing';
import { Type } from '@sinclair/typebox';
import { afterEach, describe, expect, it } from 'vitest';
import { createGateway, type Gateway } from '../src/index.js';
import { OrderPlaced } from './support.js';

// A command route's `prepare` does slow work without holding a transaction (a password hash, a
// call out) and hands its result to `handle`.

const Body = Type.Object({ item: Type.String({ minLength: 1 }) }, { additionalProperties: false });

function setup() {
  const stores = memoryStores();
  let open = 0;
  const transaction = stores.transaction.bind(stores);
  // counts the transactions open while prepare runs
  Object.assign(stores, {
    transaction: async (work: Parameters<typeof transaction>[0]) => {
      open++;
      try {
        return await transaction(work);
      } finally {
        open--;
      }
    },
  });
  const app = createApp<MemoryTx>({ broker: memoryBroker(), stores, logger: silentLogger });
  const gateway = createGateway<MemoryTx>({ app, problems: { errorKinds: { 'item-refused': 'conflict' } } });
  const seen = { prepared: [] as { item: string; openTransactions: number }[], handled: [] as string[] };
  gateway.command({
    method: 'POST',
    url: '/things',
    body: Body,
    status: 201,
    prepare: async ({ body, principal }) => {
      seen.prepared.push({ item: body.item, openTransactions: open });
      if (body.item === 'refused') throw new HeraldError('item-refused', 'refused before any write');
      // a stock check the first request used up: a second prepare of the same item fails
      if (body.item.startsWith('last-') && seen.prepared.filter((p) => p.item === body.item).length > 1) {
        throw new HeraldError('item-refused', `${body.item} is sold out`);
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
      return { digest: `digest-of-${body.item}`, caller: principal?.username ?? null };
    },
    handle: async ({ body, tx, publish, prepared }) => {
      seen.handled.push(body.item);
      tx.set(`things/${body.item}`, prepared);
      await publish(OrderPlaced, { orderId: body.item, item: prepared.digest });
      return { item: body.item, digest: prepared.digest };
    },
  });
  return { app, stores, gateway, seen };
}

const post = (gateway: Gateway<MemoryTx>, key: string, item: string) =>
  gateway.fastify.inject({ method: 'POST', url: '/things', headers: { 'content-type': 'application/json', 'idempotency-key': key }, payload: { item } });

describe('a command route with prepare', () => {
  let s: ReturnType<typeof setup>;
  afterEach(async () => {
    await s.gateway.close();
    await s.app.close();
  });

  it('runs prepare outside any transaction and hands its result to handle, which commits it', async () => {
    s = setup();
    const res = await post(s.gateway, 'k-1', 'book');
    expect(res.statusCode).toBe(201);
    expect(res.json()).toEqual({ item: 'book', digest: 'digest-of-book' });
    expect(s.seen.prepared).toEqual([{ item: 'book', openTransactions: 0 }]);
    expect(await s.stores.transaction(async (tx) => tx.get('things/book'))).toEqual({ digest: 'digest-of-book', caller: null });
    expect(await s.stores.outbox.backlog()).toMatchObject([{ topic: 'orders', pending: 1 }]);
    // a replay is answered from the key: neither prepare nor the work runs again
    const replay = await post(s.gateway, 'k-1', 'book');
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.json()).toEqual({ item: 'book', digest: 'digest-of-book' });
    expect(s.seen.prepared).toHaveLength(1);
    expect(s.seen.handled).toEqual(['book']);
  });

  it('replays the stored answer of a committed request before prepare, which would now fail', async () => {
    s = setup();
    const first = await post(s.gateway, 'k-3', 'last-ticket');
    expect(first.statusCode).toBe(201);
    const retry = await post(s.gateway, 'k-3', 'last-ticket');
    expect(retry.statusCode).toBe(201);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(retry.body).toBe(first.body);
    expect(s.seen.prepared).toHaveLength(1);
    expect(s.seen.handled).toEqual(['last-ticket']);
    // the same item under a new key is a new request: its prepare runs, and refuses
    const other = await post(s.gateway, 'k-4', 'last-ticket');
    expect(other.statusCode).toBe(409);
    expect(other.json()).toMatchObject({ code: 'item-refused', detail: 'last-ticket is sold out' });
  });

  it('answers a failed prepare with its problem, writes nothing and leaves the key free for a retry', async () => {
    s = setup();
    const refused = await post(s.gateway, 'k-2', 'refused');
    expect(refused.statusCode).toBe(409);
    expect(refused.json()).toMatchObject({ code: 'item-refused' });
    expect(s.seen.handled).toEqual([]);
    expect(await s.stores.outbox.backlog()).toEqual([]);
    // the failure took no key: the same key now runs the request that passes
    const retried = await post(s.gateway, 'k-2', 'pen');
    expect(retried.statusCode).toBe(201);
    expect(retried.headers['idempotent-replayed']).toBeUndefined();
    expect(s.seen.handled).toEqual(['pen']);
  });
});
