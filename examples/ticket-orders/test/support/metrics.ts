import { parseExposition, sumSamples, type ExpositionSample } from '@herald/metrics';
import { expect } from 'vitest';
import { GROUPS, TOPICS } from '../../src/events.js';
import type { Totals } from './verify.js';

/** GETs a process' /metrics and parses it. */
export async function scrape(metricsUrl: string): Promise<ExpositionSample[]> {
  const response = await fetch(metricsUrl);
  expect(response.status, metricsUrl).toBe(200);
  return parseExposition(await response.text());
}

/**
 * Checks from /metrics that every step of the saga published and handled exactly the orders'
 * events (`totals`, already checked in the database): OrderCreated by the api, handled once by
 * payment-service; PaymentAuthorized / PaymentDeclined by payment-service, handled by
 * ticket-service / order-service; TicketIssued by ticket-service, handled by order-service, whose
 * saga also follows OrderCreated and PaymentAuthorized (one saga started per order, completed per
 * ticket, failed per cancellation); the
 * relay published each event exactly once (a publish whose acknowledgement chaos "lost" failed and
 * was published again, counted then), and no event was dead-lettered.
 */
export function verifyFlowMetrics(samples: readonly ExpositionSample[], totals: Totals): void {
  const published = (eventType: string) => sumSamples(samples, 'herald_events_published_total', { event_type: eventType });
  const applied = (group: string, eventType: string) => sumSamples(samples, 'herald_events_handled_total', { group, event_type: eventType, outcome: 'applied' });
  expect({
    published: {
      OrderCreated: published('OrderCreated'),
      PaymentAuthorized: published('PaymentAuthorized'),
      PaymentDeclined: published('PaymentDeclined'),
      TicketIssued: published('TicketIssued'),
    },
    applied: {
      'payment-service OrderCreated': applied(GROUPS.payment, 'OrderCreated'),
      'ticket-service PaymentAuthorized': applied(GROUPS.ticket, 'PaymentAuthorized'),
      'order-service OrderCreated': applied(GROUPS.order, 'OrderCreated'),
      'order-service PaymentAuthorized': applied(GROUPS.order, 'PaymentAuthorized'),
      'order-service PaymentDeclined': applied(GROUPS.order, 'PaymentDeclined'),
      'order-service TicketIssued': applied(GROUPS.order, 'TicketIssued'),
    },
    sagas: {
      started: sumSamples(samples, 'herald_saga_transitions_total', { saga: 'ticket-order', transition: 'started' }),
      completed: sumSamples(samples, 'herald_saga_transitions_total', { saga: 'ticket-order', transition: 'completed' }),
      failed: sumSamples(samples, 'herald_saga_transitions_total', { saga: 'ticket-order', transition: 'failed' }),
    },
  }).toEqual({
    published: { OrderCreated: totals.orders, PaymentAuthorized: totals.ticketIssued, PaymentDeclined: totals.cancelled, TicketIssued: totals.ticketIssued },
    applied: {
      'payment-service OrderCreated': totals.orders,
      'ticket-service PaymentAuthorized': totals.ticketIssued,
      'order-service OrderCreated': totals.orders,
      'order-service PaymentAuthorized': totals.ticketIssued,
      'order-service PaymentDeclined': totals.cancelled,
      'order-service TicketIssued': totals.ticketIssued,
    },
    sagas: { started: totals.orders, completed: totals.ticketIssued, failed: totals.cancelled },
  });
  expect(sumSamples(samples, 'herald_events_relayed_total')).toBe(sumSamples(samples, 'herald_events_published_total'));
  expect(sumSamples(samples, 'herald_events_dead_lettered_total')).toBe(0);
  expect(sumSamples(samples, 'herald_events_handled_total', { outcome: 'dead-lettered' })).toBe(0);
}

/** Every partition the three groups consume (order-service's saga its deadlines' too), as `group topic/partition`. */
export function consumedPartitions(): string[] {
  const partitionsOf = (topic: string) => TOPICS.find((t) => t.name === topic)!.partitions;
  const consumes = { [GROUPS.payment]: ['orders'], [GROUPS.ticket]: ['payments'], [GROUPS.order]: ['orders', 'payments', 'tickets', 'ticket-order-saga-deadlines'] };
  return Object.entries(consumes).flatMap(([group, topics]) => topics.flatMap((topic) => Array.from({ length: partitionsOf(topic) }, (_, p) => `${group} ${topic}/${p}`)));
}

/**
 * Polls the /metrics of `metricsUrls` until, together, they report every consumed partition of
 * every group with lag 0 (a process reports the lag of the groups it runs) and nothing waiting in
 * the outbox, twice in a row (within `timeoutMs`); returns those scrapes' samples.
 * The read side must be read at least every 250 ms (`HERALD_METRICS_POLL_INTERVAL_MS`).
 */
export async function waitDrained(metricsUrls: readonly string[], timeoutMs: number): Promise<ExpositionSample[]> {
  const deadline = Date.now() + timeoutMs;
  const wanted = consumedPartitions().sort();
  // one read of the read side takes lag and outbox at the same time: a last event relayed while
  // they are read can show in neither. Two drained scrapes in a row (a read apart) rule that out.
  let drainedBefore = false;
  for (;;) {
    const samples = (await Promise.all(metricsUrls.map((url) => scrape(url)))).flat();
    const lags = samples.filter((s) => s.name === 'herald_consumer_lag' && wanted.includes(`${s.labels['group']} ${s.labels['topic']}/${s.labels['partition']}`));
    const pending = sumSamples(samples, 'herald_outbox_pending');
    const drained = lags.length === wanted.length && lags.every((s) => s.value === 0) && pending === 0;
    if (drained && drainedBefore) return samples;
    drainedBefore = drained;
    if (Date.now() > deadline) {
      const lagging = lags.filter((s) => s.value > 0).map((s) => `${s.labels['group']} ${s.labels['topic']}/${s.labels['partition']}: ${s.value}`);
      throw new Error(`after ${timeoutMs} ms: ${lags.length} of ${wanted.length} partitions reported, lagging: ${lagging.join(', ') || 'none'}; outbox pending ${pending}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
