import { afterAll, describe, expect, it } from 'vitest';
import { pool } from './support/client.js';
import { openOrdersDb } from './support/db.js';
import { scrape, verifyFlowMetrics, waitDrained } from './support/metrics.js';
import { startExample, stopExample, tempDataDir, type ExampleProcess } from './support/processes.js';
import { buildJobs, LIMIT_CENTS, runJob, type ClientStats, type KeyOutcome } from './support/scenario.js';
import { verifyAnswers, verifyDatabase, verifyThroughApi, verifyWorkflow, waitAllFinal } from './support/verify.js';

const ORDERS = 200;
const SERVICES = ['api', 'relay', 'payment', 'ticket', 'order'] as const;

/** Seed 003's deployment: five processes (npm run start:<service>) sharing one embedded log and store. */
describe('ticket-orders as five processes on one embedded log', () => {
  const data = tempDataDir('services');
  const processes = new Map<string, ExampleProcess>();
  afterAll(async () => {
    await Promise.all([...processes.values()].map((p) => stopExample(p)));
    data.remove();
  });

  it('runs every saga to its end across the processes', { timeout: 180_000 }, async () => {
    const env = { HERALD_CHAOS_RATE: '0.2', HANDLER_FAILURE_RATE: '0.1', PAYMENT_LIMIT_CENTS: String(LIMIT_CENTS), HERALD_METRICS_POLL_INTERVAL_MS: '250' };
    // the api first (it creates the tables), then the others together, each with a metrics server
    processes.set('api', await startExample({ dataDir: data.dir, env, service: 'api' }));
    const others = await Promise.all(SERVICES.slice(1).map((service) => startExample({ dataDir: data.dir, env: { ...env, METRICS_PORT: '0' }, service })));
    SERVICES.slice(1).forEach((service, i) => processes.set(service, others[i]!));
    const baseUrl = processes.get('api')!.url!;

    const jobs = buildJobs(ORDERS, 'services');
    const outcomes = new Map<string, KeyOutcome>();
    const stats: ClientStats = { transportErrors: 0, inFlightRetries: 0, inFlightAfterTransportError: 0 };
    await pool(jobs, 16, (job) => runJob(() => baseUrl, job, outcomes, stats));
    const orderIds = verifyAnswers(jobs, outcomes, { originalSeen: true });

    const db = openOrdersDb(data.dir);
    try {
      await waitAllFinal(db, 90_000);
      const prices = new Map([...outcomes.values()].map((o) => [o.request.key, o.request.body.priceCents]));
      const totals = await verifyDatabase(db, orderIds, prices);
      expect(totals).toEqual({ orders: 192, ticketIssued: 172, cancelled: 20, payments: 192, tickets: 172 });

      // every process serves /metrics (the api on its port, the others on their metrics server);
      // together they count every step once, and report the lag of every group (each its own groups')
      const urls = SERVICES.map((service) => processes.get(service)!.metricsUrl!);
      expect(urls.slice(1).every((url) => url !== undefined && !url.startsWith(baseUrl))).toBe(true);
      await waitDrained(urls, 30_000);
      const perProcess = await Promise.all(urls.map((url) => scrape(url)));
      verifyFlowMetrics(perProcess.flat(), totals);
      const relayMetrics = perProcess[1]!;
      expect(relayMetrics.some((s) => s.name === 'herald_relay_failures_total' && s.labels['cause'] === 'chaos' && s.value > 0)).toBe(true);
    } finally {
      await db.close();
    }
    await verifyThroughApi(baseUrl, orderIds);
    const ticketed = [...orderIds.values()][0]!;
    await verifyWorkflow(baseUrl, ticketed, ['OrderCreated', 'PaymentAuthorized', 'TicketIssued']);

    // each consumer group ran in its own process, and only there
    const groupsIn = (service: string) =>
      new Set(processes.get(service)!.lines.filter((l) => l.includes('"msg":"partitions assigned"')).map((l) => (JSON.parse(l) as { group: string }).group));
    expect(groupsIn('payment')).toEqual(new Set(['payment-service']));
    expect(groupsIn('ticket')).toEqual(new Set(['ticket-service']));
    expect(groupsIn('order')).toEqual(new Set(['order-service']));
    expect(groupsIn('api')).toEqual(new Set());
    expect(groupsIn('relay')).toEqual(new Set());
    expect(processes.get('relay')!.lines.some((l) => l.includes('"msg":"relay: chaos failure, retrying"'))).toBe(true);

    const exits = await Promise.all(SERVICES.map((service) => stopExample(processes.get(service))));
    expect(exits).toEqual([0, 0, 0, 0, 0]);
  });
});
