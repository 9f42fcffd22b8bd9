import { jsonLogger } from '@herald/core';
import { afterEach, describe, expect, it } from 'vitest';
import { fixture, type Fixture } from './support.js';

const SECRET = 's3cr3t-0f-the-caller';

describe('the query string of a failed request', () => {
  let f: Fixture;
  afterEach(async () => {
    await f.gateway.close();
    await f.app.close();
  });

  it("is not in the problem's instance: a credential sent in a query is not echoed", async () => {
    f = fixture();
    const missing = await f.gateway.fastify.inject({ method: 'GET', url: `/orders/o-404?access_token=${SECRET}&page=2` });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ code: 'not-found', instance: '/orders/o-404' });
    const refused = await f.gateway.fastify.inject({ method: 'GET', url: `/orders/%zz?code=${SECRET}` });
    expect(refused.statusCode).toBe(400);
    expect(refused.json()).toMatchObject({ code: 'bad-request', instance: '/orders/%zz' });
    const failed = await f.gateway.fastify.inject({ method: 'GET', url: `/boom?api_key=${SECRET}` });
    expect(failed.statusCode).toBe(500);
    expect(failed.json()).toMatchObject({ code: 'internal', instance: '/boom' });
    for (const res of [missing, refused, failed]) expect(res.body).not.toContain(SECRET);
  });

  it("is logged with its credentials redacted by Herald's loggers", async () => {
    const lines: string[] = [];
    f = fixture({ logger: jsonLogger({ level: 'debug', write: (line) => lines.push(line) }) });
    expect((await f.gateway.fastify.inject({ method: 'GET', url: `/boom?access_token=${SECRET}&page=2` })).statusCode).toBe(500);
    const logged = lines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line['url'] !== undefined);
    expect(logged.map((line) => [line['msg'], line['url']])).toEqual([
      ['http: request failed', '/boom?access_token=[redacted]&page=2'],
      ['request completed', '/boom?access_token=[redacted]&page=2'],
    ]);
    expect(lines.join('\n')).not.toContain(SECRET);
  });
});
