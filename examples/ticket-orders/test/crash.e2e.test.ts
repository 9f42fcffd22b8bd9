import { afterAll, describe, expect, it } from 'vitest';
import { eventually, pool } from './support/client.js';
import { openOrdersDb } from './support/db.js';
import { startExample, stopExample, tempDataDir, type ExampleProcess } from './support/processes.js';
import { buildJobs, LIMIT_CENTS, runJob, type ClientStats, type KeyOutcome } from './support/scenario.js';
import { verifyAnswers, verifyDatabase, verifyThroughApi, verifyNoDeadLetters, verifyWorkflow, waitAllFinal } from './support/verify.js';

const ORDERS = 1000;
const CONCURRENCY = 32;
// a lease longer than a restart takes, so keys left in flight by the killed process are met (409) and then taken over
const CHAOS_ENV = { HERALD_IDEMPOTENCY_LEASE_MS: '12000', HERALD_CHAOS_RATE: '0.2', HERALD_CHAOS_AFTER_ACCEPT_RATE: '0.05', HANDLER_FAILURE_RATE: '0.1', PAYMENT_LIMIT_CENTS: String(LIMIT_CENTS) };

/**
 * The chaos load of load.e2e.test.ts, with the whole system killed (SIGKILL) twice in the middle
 * and restarted on the same data directory, while requests are in flight and sagas half done.
 * Clients resend what got no answer with the same Idempotency-Key, as they should.
 */
describe('ticket-orders killed mid-run', () => {
  const data = tempDataDir('crash');
  let example: ExampleProcess | undefined;
  afterAll(async () => {
    await stopExample(example);
    data.remove();
  });

  it('loses nothing and applies nothing twice', { timeout: 180_000 }, async () => {
    example = await startExample({ dataDir: data.dir, env: CHAOS_ENV });
    let baseUrl = example.url!;
    const jobs = buildJobs(ORDERS, 'crash');
    const outcomes = new Map<string, KeyOutcome>();
    const stats: ClientStats = { transportErrors: 0, inFlightRetries: 0, inFlightAfterTransportError: 0 };
    let answered = 0;
    const started = Date.now();
    const client = pool(jobs, CONCURRENCY, async (job) => {
      await runJob(() => baseUrl, job, outcomes, stats);
      answered++;
    });

    const kills: { answeredBefore: number; downMs: number }[] = [];
    for (const at of [0.3, 0.7]) {
      await eventually(() => (answered >= jobs.length * at ? true : undefined), 60_000, `${at * 100}% of the jobs answered`);
      const killedAt = Date.now();
      example.kill('SIGKILL');
      expect(await example.exited).toBe('SIGKILL');
      const answeredBefore = answered;
      example = await startExample({ dataDir: data.dir, env: CHAOS_ENV });
      baseUrl = example.url!;
      kills.push({ answeredBefore, downMs: Date.now() - killedAt });
    }
    await client;

    expect(stats.transportErrors).toBeGreaterThan(0);
    const orderIds = verifyAnswers(jobs, outcomes, { originalSeen: false });
    const db = openOrdersDb(data.dir);
    try {
      await waitAllFinal(db, 90_000);
      const prices = new Map([...outcomes.values()].map((o) => [o.request.key, o.request.body.priceCents]));
      const totals = await verifyDatabase(db, orderIds, prices);
      expect(totals).toEqual({ orders: 960, ticketIssued: 860, cancelled: 100, payments: 960, tickets: 860 });
      await verifyThroughApi(baseUrl, orderIds);
      const ticketed = [...orderIds.entries()].find(([key]) => prices.get(key)! <= LIMIT_CENTS)![1];
      await verifyWorkflow(baseUrl, ticketed, ['OrderCreated', 'PaymentAuthorized', 'TicketIssued']);
      const replayedOnly = [...outcomes.values()].filter((o) => o.answers[0]!.status === 201 && o.answers.every((a) => a.replayed)).length;
      console.log(JSON.stringify({ test: 'crash', requested: ORDERS, ...totals, kills, ...stats, replayedOnly, totalMs: Date.now() - started }));
    } finally {
      await db.close();
    }

    expect(await stopExample(example)).toBe(0);
    await verifyNoDeadLetters(data.dir);
  });
});
