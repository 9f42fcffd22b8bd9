import { request as httpRequest } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { closeOnSignals } from '@herald/core';
import { fixture, gate, type Fixture } from './support.js';

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** One request on its own connection (no keep-alive pool), bounded in time. */
function call(url: string, options: { method?: string; body?: unknown; key?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    const req = httpRequest(
      url,
      {
        method: options.method ?? 'GET',
        agent: false,
        timeout: 10_000,
        headers: payload ? { 'content-type': 'application/json', 'idempotency-key': options.key ?? 'k' } : {},
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(payload);
  });
}

describe('graceful shutdown on a real listener', () => {
  let f: Fixture | undefined;
  afterEach(async () => {
    await f?.gateway.close({ deadlineMs: 100 });
    f = undefined;
  });

  it('reports not-ready first, finishes in-flight requests, refuses new connections, then runs onClosed', async () => {
    let appClosed = false;
    f = fixture({ shutdown: { readinessGraceMs: 300, onClosed: async () => void (appClosed = true) } });
    const { url } = await f.gateway.listen({ port: 0, host: '127.0.0.1' });
    f.gateway.markReady();
    expect((await call(`${url}/readyz`)).status).toBe(200);

    f.hold = gate();
    const inFlight = call(`${url}/orders`, { method: 'POST', body: { item: 'book', quantity: 1 } });
    await until(() => f!.runs.count === 1);
    const closed = f.gateway.close();

    // during the grace period: not ready, but still serving
    const readyz = await call(`${url}/readyz`);
    expect(readyz.status).toBe(503);
    expect(JSON.parse(readyz.body)).toMatchObject({ code: 'unavailable', detail: 'not ready: draining' });
    expect((await call(`${url}/livez`)).status).toBe(200);

    // after it: the listener is gone
    await until(async () => (await call(`${url}/livez`).catch((e: NodeJS.ErrnoException) => e.code)) === 'ECONNREFUSED');
    expect(appClosed).toBe(false);

    f.hold.open();
    const answer = await inFlight;
    expect(answer.status).toBe(201);
    expect(JSON.parse(answer.body)).toEqual({ orderId: 'o-1', status: 'CREATED' });
    await closed;
    expect(appClosed).toBe(true);
    expect(f.gateway.readiness.state).toBe('closed');
  });

  it('cuts requests still running at the deadline', async () => {
    f = fixture({ shutdown: { deadlineMs: 200 } });
    const { url } = await f.gateway.listen({ port: 0 });
    f.hold = gate();
    const stuck = call(`${url}/orders`, { method: 'POST', body: { item: 'book', quantity: 1 } }).catch((e: NodeJS.ErrnoException) => e.code ?? e.message);
    await until(() => f!.runs.count === 1);
    const started = Date.now();
    await f.gateway.close();
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(190);
    expect(elapsed).toBeLessThan(2_000);
    expect(await stuck).toBe('ECONNRESET');
    f.hold.open();
  });

  it('closes once on SIGTERM when asked to handle signals', async () => {
    let closes = 0;
    const before = process.listenerCount('SIGTERM');
    const dispose = closeOnSignals(async () => void closes++, { exit: false });
    expect(process.listenerCount('SIGTERM')).toBe(before + 1);
    try {
      process.emit('SIGTERM', 'SIGTERM');
      await until(() => closes === 1);
      expect(process.listenerCount('SIGTERM')).toBe(before);
    } finally {
      dispose();
      process.exitCode = undefined;
    }
  });
});

async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
