import { afterEach, describe, expect, it } from 'vitest';
import { sumSamples } from '@herald/metrics';
import { eventually, postOrder, send } from './support/client.js';
import { allQueries, asInstances, checkPromql, panelQueries, unknownLabels } from './support/dashboard.js';
import { scrape, waitDrained } from './support/metrics.js';
import { startExample, stopExample, tempDataDir, type ExampleProcess } from './support/processes.js';
import { LIMIT_CENTS } from './support/scenario.js';

/**
 * Seed 003's E2E Order Flow dashboard against the example's real /metrics: what its panels would
 * draw, evaluated by promtool. A healthy system's two flow lines meet; an order left CREATED shows.
 */
describe('the E2E Order Flow dashboard on ticket-orders', () => {
  let example: ExampleProcess | undefined;
  let data: ReturnType<typeof tempDataDir> | undefined;
  let ticketService: ExampleProcess | undefined;
  afterEach(async () => {
    await stopExample(ticketService);
    await stopExample(example);
    data?.remove();
    example = undefined;
    ticketService = undefined;
  });

  const flow = () => panelQueries('Flow: Published vs Processed');
  const inFlight = () => panelQueries('Orders in flight')['A']!;
  /** The flow panel's green line over its yellow one, times 1000 (1000: they meet). */
  const flowRatio = () => `round(1000 * (${flow()['A']}) / (${flow()['B']}))`;

  async function placeOrders(baseUrl: string, prices: readonly number[]): Promise<string[]> {
    return Promise.all(
      prices.map(async (priceCents, i) => {
        const answer = await postOrder(baseUrl, { customerId: `c-${i}`, flightId: 'SU100', seat: `${i + 1}A`, priceCents }, `dashboard-${i}`);
        expect(answer.status).toBe(201);
        return (JSON.parse(answer.text) as { orderId: string }).orderId;
      }),
    );
  }

  const statusOf = async (baseUrl: string, orderId: string) => (JSON.parse((await send(`${baseUrl}/orders/${orderId}`)).text) as { status: string }).status;

  it('asks every metric only for labels it has, and the check can fail', () => {
    const problems = allQueries().flatMap(({ where, expr }) => unknownLabels(expr).map((p) => `${where}: ${p}`));
    expect(problems).toEqual([]);
    expect(unknownLabels('sum(rate(herald_events_relayed_total{topic!="ticket-order-saga"}[5m]))')).toEqual(['herald_events_relayed_total: no label topic']);
    expect(unknownLabels('sum by (topic) (rate(herald_events_relayed_total[5m]))')).toEqual(['by (topic): no metric of the query has it']);
    expect(unknownLabels('sum(herald_orders_in_flight)')).toEqual(['herald_orders_in_flight: not a Herald metric']);
  });

  it('draws a healthy system: every queried metric exposed, the flow lines meet, no order in flight', { timeout: 90_000 }, async () => {
    data = tempDataDir('dashboard');
    example = await startExample({ dataDir: data.dir, env: { PAYMENT_LIMIT_CENTS: String(LIMIT_CENTS), HERALD_METRICS_POLL_INTERVAL_MS: '250' } });
    const baseUrl = example.url!;
    const orders = await placeOrders(baseUrl, [5_000, 6_000, LIMIT_CENTS + 1, 7_000, 8_000, LIMIT_CENTS + 2, 9_000, 10_000]);
    for (const orderId of orders) await eventually(async () => ((await statusOf(baseUrl, orderId)) !== 'CREATED' ? true : undefined), 30_000, `order ${orderId} final`);
    const samples = await waitDrained([example.metricsUrl!], 30_000);

    const exposition = await (await fetch(example.metricsUrl!)).text();
    const declared = new Set([...exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)].flatMap(([, name, type]) => (type === 'histogram' ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : [name!])));
    const queried = new Set(allQueries().flatMap(({ expr }) => expr.match(/\bherald_[a-z_]+/g) ?? []));
    expect(queried.size).toBeGreaterThan(10);
    expect([...queried].filter((name) => !declared.has(name))).toEqual([]);

    const duration = panelQueries('Order saga duration p50 / p99');
    const verdict = await checkPromql(samples, [
      { expr: flowRatio(), value: 1000 },
      { expr: inFlight(), value: 0 },
      // a duration for each way an order's saga ends: completed (ticketed) and failed (declined)
      { expr: `count(${duration['A']})`, value: 2 },
      { expr: `count(${duration['B']})`, value: 2 },
    ]);
    expect(verdict, verdict.out).toMatchObject({ code: 0 });
  });

  it('shows orders waiting on a step (ticket-service down, its deadline not passed yet): in flight, and a gap between the flow lines', { timeout: 90_000 }, async () => {
    data = tempDataDir('dashboard-stuck');
    example = await startExample({ dataDir: data.dir, service: 'api,relay,payment,order', env: { HERALD_METRICS_POLL_INTERVAL_MS: '250' } });
    const baseUrl = example.url!;
    const orders = await placeOrders(baseUrl, [5_000, 6_000]);
    // paid, the payment step of their sagas done and everything written relayed: nothing moves any more
    const samples = await eventually(async () => {
      const now = await scrape(example!.metricsUrl!);
      const paid = sumSamples(now, 'herald_events_handled_total', { group: 'order-service', event_type: 'PaymentAuthorized', outcome: 'applied' });
      const steps = sumSamples(now, 'herald_saga_transitions_total', { saga: 'ticket-order', transition: 'step_completed' });
      const relayedAll = sumSamples(now, 'herald_events_relayed_total') === sumSamples(now, 'herald_events_published_total');
      // the in-flight gauge is polled from the saga store: a scrape may come before the read that sees both
      const inFlightRead = sumSamples(now, 'herald_sagas_in_flight', { saga: 'ticket-order', status: 'running' }) === 2;
      return paid === 2 && steps === 2 && relayedAll && inFlightRead ? now : undefined;
    }, 30_000, 'both orders paid, every event relayed and both sagas read in flight');
    for (const orderId of orders) expect(await statusOf(baseUrl, orderId)).toBe('CREATED');
    // what the README tells an operator to look at: the saga running, its ticket step active, and who has not processed what
    const workflow = JSON.parse((await send(`${baseUrl}/orders/${orders[0]}/workflow`)).text) as { saga: unknown; events: { type: string; consumers: unknown[] }[] };
    expect(workflow.saga).toMatchObject({ status: 'running', steps: [{ name: 'payment', status: 'completed' }, { name: 'ticket', status: 'active' }] });
    expect(workflow.events.find((e) => e.type === 'PaymentAuthorized')?.consumers).toEqual([
      { group: 'ticket-service', processed: false, processedAt: null },
      { group: 'order-service', processed: true, processedAt: expect.any(String) },
    ]);

    const verdict = await checkPromql(samples, [
      { expr: inFlight(), value: 2 },
      // green: 2 x (OrderCreated and PaymentAuthorized, twice each) = 8 deliveries; yellow: 6 applied (ticket-service's 2 missing)
      { expr: flowRatio(), value: 1333 },
    ]);
    expect(verdict, verdict.out).toMatchObject({ code: 0 });
  });

  it('takes orders out of flight when the ticket step misses its deadline (FAILED), and the flow lines meet once ticket-service is back', { timeout: 90_000 }, async () => {
    data = tempDataDir('dashboard-deadline');
    const env = { HERALD_METRICS_POLL_INTERVAL_MS: '250', ORDER_STEP_DEADLINE_MS: '1500' };
    example = await startExample({ dataDir: data.dir, service: 'api,relay,payment,order', env });
    const baseUrl = example.url!;
    const orders = await placeOrders(baseUrl, [5_000, 6_000]);
    for (const orderId of orders) await eventually(async () => ((await statusOf(baseUrl, orderId)) === 'FAILED' ? true : undefined), 30_000, `order ${orderId} FAILED`);
    // the payments refunded (CancelPayment applied), the sagas read out of flight, everything written relayed
    const failed = await eventually(async () => {
      const now = await scrape(example!.metricsUrl!);
      const refunds = sumSamples(now, 'herald_events_handled_total', { group: 'payment-service', event_type: 'CancelPayment', outcome: 'applied' });
      const relayedAll = sumSamples(now, 'herald_events_relayed_total') === sumSamples(now, 'herald_events_published_total');
      const outOfFlight = sumSamples(now, 'herald_sagas_in_flight', { saga: 'ticket-order' }) === 0;
      return refunds === 2 && relayedAll && outOfFlight ? now : undefined;
    }, 30_000, 'both payments refunded, every event relayed, no saga in flight');
    const down = await checkPromql(failed, [
      { expr: inFlight(), value: 0 },
      // per order, green: OrderCreated and PaymentAuthorized twice each, SagaDeadlineReached, CancelPayment, VoidTicket = 7;
      // yellow: 5 applied (ticket-service's PaymentAuthorized and VoidTicket wait for it)
      { expr: flowRatio(), value: 1400 },
    ]);
    expect(down, down.out).toMatchObject({ code: 0 });

    // ticket-service back: the PaymentAuthorized ahead of the VoidTicket issues a ticket, which the VoidTicket voids;
    // the late TicketIssued reaches the failed saga, which compensates it (a second VoidTicket, which changes nothing)
    ticketService = await startExample({ dataDir: data.dir, service: 'ticket', env: { ...env, METRICS_PORT: '0' } });
    const urls = [example.metricsUrl!, ticketService.metricsUrl!];
    await waitDrained(urls, 30_000);
    for (const orderId of orders) {
      expect(JSON.parse((await send(`${baseUrl}/orders/${orderId}`)).text)).toMatchObject({ status: 'FAILED', paymentStatus: 'REFUNDED', ticketStatus: 'VOIDED' });
    }
    const back = await checkPromql(asInstances(await Promise.all(urls.map((url) => scrape(url)))), [
      { expr: inFlight(), value: 0 },
      // per order, 9 and 9: the 7 above, TicketIssued (applied by the saga) and the second VoidTicket
      { expr: flowRatio(), value: 1000 },
    ]);
    expect(back, back.out).toMatchObject({ code: 0 });
  });
});
