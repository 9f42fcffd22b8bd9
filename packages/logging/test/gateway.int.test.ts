import { createApp, type Publish } from '@herald/core';
import { createGateway, type RequestTracer } from '@herald/http';
import { memoryBroker, memoryStores, type MemoryTx } from '@herald/testing';
import { Type } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { pinoLogger } from '../src/index.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';

/** A tracer that only names the trace, as a tracing package would. */
const tracer: RequestTracer = {
  start: () => ({ traceId: TRACE_ID, run: (work) => work(), publish: (publish: Publish) => publish, end: () => {} }),
};

describe('the HTTP gateway logging through pino', () => {
  it('writes fastify’s lines and one line per request with its request, correlation and trace ids', async () => {
    const lines: string[] = [];
    const logger = pinoLogger({ destination: { write: (chunk: string) => void lines.push(...chunk.split('\n').filter(Boolean)) }, fields: { service: 'api' } });
    const app = createApp<MemoryTx>({ broker: memoryBroker(), stores: memoryStores(), logger });
    const gateway = createGateway<MemoryTx>({ app, tracing: tracer });
    gateway.command({
      method: 'POST',
      url: '/fail/:why',
      params: Type.Object({ why: Type.String() }),
      idempotency: 'off',
      handle: async ({ params, logger: requestLogger }) => {
        requestLogger.info('about to fail', { why: params.why });
        throw new Error('request failed', { cause: new Error(params.why) });
      },
    });
    try {
      const res = await gateway.fastify.inject({ method: 'POST', url: '/fail/disk-full', headers: { 'x-correlation-id': 'flow-1' } });
      expect(res.statusCode).toBe(500);
      gateway.fastify.log.info({ detail: 'from fastify' }, 'fastify speaking');
      const entries = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      const ids = { requestId: res.headers['x-request-id'], correlationId: 'flow-1', traceId: TRACE_ID, service: 'api' };
      expect(entries.find((e) => e['msg'] === 'about to fail')).toMatchObject({ level: 'info', ...ids, why: 'disk-full' });
      expect(entries.find((e) => e['msg'] === 'http: request failed')).toMatchObject({
        level: 'error',
        ...ids,
        error: { message: 'request failed', cause: { message: 'disk-full', stack: expect.stringContaining('disk-full') } },
      });
      expect(entries.find((e) => e['msg'] === 'request completed')).toMatchObject({ level: 'info', ...ids, method: 'POST', route: '/fail/:why', statusCode: 500 });
      expect(entries.find((e) => e['msg'] === 'fastify speaking')).toMatchObject({ level: 'info', service: 'api', detail: 'from fastify' });
    } finally {
      await gateway.close();
      await app.close();
    }
  });
});
