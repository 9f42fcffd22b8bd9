import { createApp, silentLogger } from '@herald/core';
import { memoryBroker, memoryStores, type MemoryTx } from '@herald/testing';
import { Type } from '@sinclair/typebox';
import { afterAll, describe, expect, it } from 'vitest';
import { createGateway } from '../src/index.js';

// A route's response is written as JSON: a JSON content-type it gives (a problem's) is kept, on
// the first answer and on a replay, and any other type is refused rather than sent mislabelled.

const app = createApp<MemoryTx>({ broker: memoryBroker(), stores: memoryStores(), logger: silentLogger });
const gateway = createGateway<MemoryTx>({ app });
const Body = Type.Object({ type: Type.String() });
gateway.command({
  method: 'POST',
  url: '/answers',
  body: Body,
  status: 422,
  handle: async ({ body }) => ({ type: 'https://example.com/problems/rejected', title: 'rejected', status: 422, asked: body.type }),
  headers: (result) => ({ 'Content-Type': result.asked, 'x-kind': 'answer' }),
});

afterAll(async () => {
  await gateway.close();
  await app.close();
});

const post = (type: string, key: string) =>
  gateway.fastify.inject({
    method: 'POST',
    url: '/answers',
    headers: { 'content-type': 'application/json', 'idempotency-key': key },
    payload: JSON.stringify({ type }),
  });

describe('a route response\'s content-type', () => {
  it('keeps a JSON type the route gives, also on a replay', async () => {
    const first = await post('application/problem+json', 'k-1');
    expect([first.statusCode, first.headers['content-type'], first.headers['x-kind'], first.json()]).toEqual([
      422,
      'application/problem+json',
      'answer',
      { type: 'https://example.com/problems/rejected', title: 'rejected', status: 422, asked: 'application/problem+json' },
    ]);
    const replay = await post('application/problem+json', 'k-1');
    expect([replay.statusCode, replay.headers['content-type'], replay.headers['idempotent-replayed']]).toEqual([422, 'application/problem+json', 'true']);
    expect((await post('application/json; charset=utf-8', 'k-2')).headers['content-type']).toBe('application/json; charset=utf-8');
  });

  it('refuses a type the JSON body is not, with a 500 problem, not a mislabelled body', async () => {
    const res = await post('text/html', 'k-3');
    expect([res.statusCode, res.headers['content-type']]).toEqual([500, 'application/problem+json']);
  });
});
