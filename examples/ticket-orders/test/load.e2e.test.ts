import { afterAll, describe, expect, it } from 'vitest';
import { sumSamples } from '@herald/metrics';
import { pool } from './support/client.js';
import { openOrdersDb } from './support/db.js';
import { scrape, verifyFlowMetrics, waitDrained } from './support/metrics.js';
import { countLog, startExample, stopExample, tempDataDir, type ExampleProcess } from './support/processes.js';
import { buildJobs, LIMIT_CENTS, runJob, type ClientStats, type KeyOutcome } from './support/scenario.js';
import { verifyAnswers, verifyDatabase, verifyThroughApi, verifyNoDeadLetters, verifyWorkflow, waitAllFinal } from './support/verify.js';

const ORDERS = 1000;
const CONCURRENCY = 32;

/**
 * Seed 003 under load: 1,000 orders sent over real HTTP with 32 in flight, 20% of relay
 * publishes dropped and 5% acknowledged-then-failed (duplicates on the log), 10% of handler
 * attempts failing after their writes, every 5th order sent twice with its Idempotency-Key and
 * 40 pairs racing for one seat. The counts are checked a second time from /metrics.
 */
describe('ticket-orders under chaos', () => {
  const data = tempDataDir('load');
  let example: ExampleProcess | undefined;
  afterAll(async () => {
    await stopExample(example);
    data.remove();
  });

  it('ends every order in a final status, pays once, tickets at most once and never sells a seat twice', { timeout: 180_000 }, async () => {
    example = await startExample({
      dataDir: data.dir,
      env: {
        HERALD_CHAOS_RATE: '0.2',
        HERALD_CHAOS_AFTER_ACCEPT_RATE: '0.05',
        HANDLER_FAILURE_RATE: '0.1',
        PAYMENT_LIMIT_CENTS: String(LIMIT_CENTS),
        HERALD_METRICS_POLL_INTERVAL_MS: '250',
      },
    });
    const baseUrl = example.url!;
    const jobs = buildJobs(ORDERS, 'load');
    const outcomes = new Map<string, KeyOutcome>();
    const stats: ClientStats = { transportErrors: 0, inFlightRetries: 0, inFlightAfterTransportError: 0 };
    const started = Date.now();
    await pool(jobs, CONCURRENCY, (job) => runJob(() => baseUrl, job, outcomes, stats));
    const requestsMs = Date.now() - started;

    expect(stats.transportErrors).toBe(0);
    const orderIds = verifyAnswers(jobs, outcomes, { originalSeen: true });
    const db = openOrdersDb(data.dir);
    try {
      await waitAllFinal(db, 90_000);
      const totalMs = Date.now() - started;
      const prices = new Map([...outcomes.values()].map((o) => [o.request.key, o.request.body.priceCents]));
      const totals = await verifyDatabase(db, orderIds, prices);
      expect(totals).toEqual({ orders: 960, ticketIssued: 860, cancelled: 100, payments: 960, tickets: 860 });
      await verifyThroughApi(baseUrl, orderIds);

      const ticketed = [...orderIds.entries()].find(([key]) => prices.get(key)! <= LIMIT_CENTS)![1];
      const cancelled = [...orderIds.entries()].find(([key]) => prices.get(key)! > LIMIT_CENTS)![1];
      await verifyWorkflow(baseUrl, ticketed, ['OrderCreated', 'PaymentAuthorized', 'TicketIssued']);
      await verifyWorkflow(baseUrl, cancelled, ['OrderCreated', 'PaymentDeclined']);

      // the chaos really happened
      const relayChaos = countLog(example.lines, 'relay: chaos failure, retrying');
      const handlerRetries = countLog(example.lines, 'handler failed, retrying');
      expect(relayChaos).toBeGreaterThan(0);
      expect(handlerRetries).toBeGreaterThan(100);
      const duplicates = [...outcomes.values()].filter((o) => o.answers.length > 1).length;

      // the same story from /metrics: every step's events published and handled once, the chaos
      // counted as the log tells it, and the read side back to no lag and an empty outbox
      expect(example.metricsUrl).toBe(`${baseUrl}/metrics`);
      const samples = await waitDrained([example.metricsUrl!], 30_000);
      verifyFlowMetrics(samples, totals);
      expect(sumSamples(samples, 'herald_relay_failures_total', { cause: 'chaos' })).toBeGreaterThan(0);
      // the log lines travel through a pipe, the counts through HTTP: compare once both agree or 5 s passed
      let counted = { chaos: -1, retries: -1 };
      let logged = { chaos: 0, retries: 0 };
      for (const deadline = Date.now() + 5000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
        const now = await scrape(example.metricsUrl!);
        counted = { chaos: sumSamples(now, 'herald_relay_failures_total', { cause: 'chaos' }), retries: sumSamples(now, 'herald_handler_retries_total') };
        logged = { chaos: countLog(example.lines, 'relay: chaos failure, retrying'), retries: countLog(example.lines, 'handler failed, retrying') };
        if (counted.chaos === logged.chaos && counted.retries === logged.retries) break;
      }
      expect(counted).toEqual(logged);
      const metricsChaos = counted.chaos;
      expect(sumSamples(samples, 'herald_relay_failures_total', { cause: 'error' })).toBe(0);
      expect(sumSamples(samples, 'herald_http_request_duration_seconds_count', { method: 'POST', route: '/orders', status_code: '201' })).toBeGreaterThanOrEqual(totals.orders);
      // order-service's saga handles each order's OrderCreated, its payment outcome, and its TicketIssued if any
      expect(sumSamples(samples, 'herald_critical_time_seconds_count', { group: 'order-service' })).toBe(2 * totals.orders + totals.ticketIssued);
      console.log(JSON.stringify({ test: 'load', requested: ORDERS, ...totals, duplicates, ...stats, relayChaos, handlerRetries, metricsChaos, requestsMs, totalMs }));
    } finally {
      await db.close();
    }

    expect(await stopExample(example)).toBe(0);
    await verifyNoDeadLetters(data.dir);
  });
});
