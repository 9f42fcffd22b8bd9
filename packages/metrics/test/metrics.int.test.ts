import { createApp, createManualClock, silentLogger } from '@herald/core';
import { memoryBroker, memoryStores } from '@herald/testing';
import { describe, expect, it } from 'vitest';
import { createMetrics, sumSamples, type ExpositionSample } from '../src/index.js';
import { eventually, FLAKY, OrderBilled, OrderPlaced, POISON, testApp } from './support/app.js';
import { caughtUp, scrape, useStartedApps } from './support/running.js';

const { started, onClose } = useStartedApps();

describe('createMetrics on a running app', () => {
  it('counts published, relayed, chaos, handled by outcome, retries and dead letters, and reads lag, outbox and dead letters', async () => {
    const fixture = testApp();
    const metrics = createMetrics({ app: fixture.app, pollIntervalMs: 60_000 });
    await started(fixture, metrics);
    for (const orderId of ['o-1', FLAKY, POISON]) await fixture.app.publish(OrderPlaced, { orderId });
    // billing: 3 deliveries; audit: the 2 OrderBilled that billing published
    await fixture.untilHandled(5);
    await caughtUp(metrics);

    const s = await scrape(metrics);
    const value = (name: string, labels: Record<string, string> = {}) => sumSamples(s, name, labels);
    expect(value('herald_events_published_total', { topic: 'orders', event_type: 'OrderPlaced' })).toBe(3);
    expect(value('herald_events_published_total', { topic: 'invoices', event_type: 'OrderBilled' })).toBe(2);
    expect(value('herald_events_relayed_total')).toBe(5);
    expect(value('herald_relay_failures_total', { cause: 'chaos' })).toBe(1);
    expect(value('herald_relay_failures_total', { cause: 'error' })).toBe(0);
    expect(value('herald_relay_publish_duration_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(value('herald_events_handled_total', { group: 'billing', topic: 'orders', event_type: 'OrderPlaced', outcome: 'applied' })).toBe(2);
    expect(value('herald_events_handled_total', { group: 'billing', outcome: 'dead-lettered' })).toBe(1);
    expect(value('herald_events_handled_total', { group: 'audit', topic: 'invoices', outcome: 'applied' })).toBe(2);
    expect(value('herald_handler_retries_total', { group: 'billing', event_type: 'OrderPlaced' })).toBe(1);
    expect(value('herald_events_dead_lettered_total', { group: 'billing', handler: 'billing:OrderPlaced', reason: 'card-rejected', status: 'dead' })).toBe(1);
    expect(value('herald_handler_duration_seconds_count', { group: 'billing' })).toBe(3);
    expect(value('herald_critical_time_seconds_count', { group: 'billing' })).toBe(2);
    expect(value('herald_critical_time_seconds_bucket', { group: 'audit', le: '+Inf' })).toBe(2);
    // read side, polled
    expect(value('herald_dead_letters', { group: 'billing', handler: 'billing:OrderPlaced', reason: 'card-rejected', status: 'dead' })).toBe(1);
    expect(value('herald_outbox_pending', { topic: 'orders' })).toBe(0);
    expect(value('herald_outbox_pending', { topic: 'invoices' })).toBe(0);
    expect(value('herald_outbox_oldest_pending_age_seconds', { topic: 'orders' })).toBe(0);
    expect(value('herald_consumer_group_members', { group: 'billing' })).toBe(1);
    expect(s.filter((x) => x.name === 'herald_consumer_lag' && x.labels['group'] === 'billing')).toHaveLength(4);
    expect(value('herald_consumer_assigned_partitions', { group: 'billing' })).toBe(4);
    // the process metrics follow the app's
    expect(value('process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(s.some((x) => x.name === 'nodejs_heap_size_total_bytes')).toBe(true);
  });

  it("reports the lag of the app's own groups only: not another service's group, nor a group nobody runs any more", async () => {
    const broker = memoryBroker();
    const fixture = testApp({ broker });
    const metrics = createMetrics({ app: fixture.app, pollIntervalMs: 60_000 });
    // on the same log: another service's group, and a reply group of a requester of a past process
    // (`herald.reply.<instance>`, new at each start), both left behind with offsets committed
    for (const group of ['shipping', 'herald.reply.requester-0193']) {
      const gone = await broker.subscribe({ group, topics: ['orders'], start: 'earliest' }, { deliver: async () => {}, revoked: async () => {} });
      await gone.commit([{ topic: 'orders', partition: 0, offset: 0 }]);
      await gone.close();
    }
    expect(await broker.listGroups()).toEqual(expect.arrayContaining(['shipping', 'herald.reply.requester-0193']));
    await started(fixture, metrics);
    for (const orderId of ['o-1', 'o-2', 'o-3', 'o-4', 'o-5']) await fixture.app.publish(OrderPlaced, { orderId });
    await fixture.untilHandled(10);
    await caughtUp(metrics);

    const s = await scrape(metrics);
    const groupsOf = (name: string) => new Set(s.filter((x) => x.name === name).map((x) => x.labels['group']));
    expect(groupsOf('herald_consumer_lag')).toEqual(new Set(['billing', 'audit']));
    expect(groupsOf('herald_consumer_group_members')).toEqual(new Set(['billing', 'audit']));
  });

  it('reports the lag of a group whose handlers were registered after createMetrics', async () => {
    const app = createApp({ broker: memoryBroker(), stores: memoryStores(), logger: silentLogger, events: [OrderPlaced], relay: false });
    const metrics = createMetrics({ app, pollIntervalMs: 0 });
    app.on(OrderPlaced, { group: 'late-comer' }, async () => {});
    await app.start();
    onClose(() => app.close({ deadlineMs: 1000 }));
    await app.ready();
    await app.publishDirect(OrderPlaced, { orderId: 'o-1' });
    const lags = async () => (await metrics.poll(), (await scrape(metrics)).filter((x) => x.name === 'herald_consumer_lag'));
    await eventually(async () => (await lags()).some((x) => x.labels['group'] === 'late-comer'), 'the lag of the group, once it committed');
    expect(new Set((await lags()).map((x) => x.labels['group']))).toEqual(new Set(['late-comer']));
  });

  it('drops the lag of a partition it no longer owns, when lag comes from the facts', async () => {
    const inner = memoryBroker();
    const broker = { publish: inner.publish.bind(inner), subscribe: inner.subscribe.bind(inner), close: inner.close.bind(inner) };
    const fixture = testApp({ broker, relay: false });
    const metrics = createMetrics({ app: fixture.app, pollIntervalMs: 0 });
    const emit = (fact: Parameters<typeof fixture.app.instrumentation.emit>[0]) => fixture.app.instrumentation.emit(fact);
    // this member owned orders/0 and /1, then a rebalance gave orders/0 to another member
    emit({ kind: 'assigned', group: 'billing', partitions: [{ topic: 'orders', partition: 0 }, { topic: 'orders', partition: 1 }] });
    emit({ kind: 'lag', group: 'billing', topic: 'orders', partition: 0, lag: 5_000 });
    emit({ kind: 'lag', group: 'billing', topic: 'orders', partition: 1, lag: 7 });
    emit({ kind: 'revoked', group: 'billing', partitions: [{ topic: 'orders', partition: 0 }] });
    const s = await scrape(metrics);
    expect(s.filter((x) => x.name === 'herald_consumer_lag')).toEqual([{ name: 'herald_consumer_lag', labels: { group: 'billing', topic: 'orders', partition: '1' }, value: 7 }]);
    expect(sumSamples(s, 'herald_consumer_assigned_partitions', { group: 'billing' })).toBe(1);
    await metrics.close({ deadlineMs: 0 });
  });

  it('counts a redrive and reports the resolved dead letter as 0, not as a vanished series', async () => {
    const healed = { value: false };
    const fixture = testApp({ healed });
    const metrics = createMetrics({ app: fixture.app, pollIntervalMs: 60_000 });
    await started(fixture, metrics);
    await fixture.app.publish(OrderPlaced, { orderId: POISON });
    await fixture.untilHandled(1);
    await metrics.poll();
    const letter = { group: 'billing', handler: 'billing:OrderPlaced', reason: 'card-rejected', status: 'dead' };
    expect(sumSamples(await scrape(metrics), 'herald_dead_letters', letter)).toBe(1);

    healed.value = true;
    expect((await fixture.app.redrive({ group: 'billing' })).redriven).toBe(1);
    await metrics.poll();
    const s = await scrape(metrics);
    expect(sumSamples(s, 'herald_events_redriven_total', { group: 'billing' })).toBe(1);
    expect(s.filter((x) => x.name === 'herald_dead_letters' && x.labels['reason'] === 'card-rejected')).toEqual([{ name: 'herald_dead_letters', labels: letter, value: 0 }]);
  });

  it('counts records retention deleted before a group read them, per group, topic and partition', async () => {
    const fixture = testApp({ healed: { value: true } });
    const metrics = createMetrics({ app: fixture.app, pollIntervalMs: 60_000 });
    await started(fixture, metrics);
    // the fact the consumer runtime emits when the broker reports an offset out of range
    fixture.app.instrumentation.emit({ kind: 'records-skipped', group: 'billing', topic: 'orders', partition: 2, from: 10, to: 50, count: 40, resumed: true });
    fixture.app.instrumentation.emit({ kind: 'records-skipped', group: 'billing', topic: 'orders', partition: 2, from: 50, to: 55, count: 5, resumed: true });
    expect(sumSamples(await scrape(metrics), 'herald_records_skipped_total', { group: 'billing', topic: 'orders', partition: '2' })).toBe(45);
  });

  it('counts events read through an upcast, by group, type and both versions', async () => {
    const fixture = testApp({ healed: { value: true } });
    const metrics = createMetrics({ app: fixture.app, pollIntervalMs: 60_000 });
    await started(fixture, metrics);
    for (const fromVersion of [1, 1, 2]) fixture.app.instrumentation.emit({ kind: 'upcast', group: 'notification', eventType: 'UserRegistered', fromVersion, toVersion: 3 });
    const samples = await scrape(metrics);
    expect(sumSamples(samples, 'herald_events_upcast_total', { group: 'notification', event_type: 'UserRegistered', from_version: '1', to_version: '3' })).toBe(2);
    expect(sumSamples(samples, 'herald_events_upcast_total', { group: 'notification', event_type: 'UserRegistered', from_version: '2', to_version: '3' })).toBe(1);
  });

  it('shows a partition held before unreadable records at 1 until it moves', async () => {
    const fixture = testApp({ healed: { value: true } });
    const metrics = createMetrics({ app: fixture.app, pollIntervalMs: 60_000 });
    await started(fixture, metrics);
    const held = async () => (await scrape(metrics)).filter((x) => x.name === 'herald_consumer_partition_held');
    // the fact the consumer runtime emits when the broker holds a partition (Kafka: a batch no codec reads)
    fixture.app.instrumentation.emit({ kind: 'partition-held', group: 'search', topic: 'posts', partition: 2, offset: 41, reason: 'record-batch-undecodable' });
    expect(await held()).toEqual([{ name: 'herald_consumer_partition_held', labels: { group: 'search', topic: 'posts', partition: '2', reason: 'record-batch-undecodable' }, value: 1 }]);
    // another partition of the group moving changes nothing; the held one moving removes its series
    fixture.app.instrumentation.emit({ kind: 'revoked', group: 'search', partitions: [{ topic: 'posts', partition: 1 }] });
    expect(await held()).toHaveLength(1);
    fixture.app.instrumentation.emit({ kind: 'revoked', group: 'search', partitions: [{ topic: 'posts', partition: 2 }] });
    expect(await held()).toEqual([]);
  });

  it('counts replies dropped by requesters, by reply type and reason (never by instance)', async () => {
    const fixture = testApp({ healed: { value: true } });
    const metrics = createMetrics({ app: fixture.app, pollIntervalMs: 60_000 });
    await started(fixture, metrics);
    // the fact @herald/reply's requester emits for a reply nobody waits for
    for (const reason of ['late', 'late', 'duplicate'] as const) {
      fixture.app.instrumentation.emit({ kind: 'reply-dropped', requester: `notifier-${reason}`, topic: 'users.profile.response', replyType: 'ProfileReturned', reason });
    }
    const samples = await scrape(metrics);
    expect(sumSamples(samples, 'herald_replies_dropped_total', { reply_type: 'ProfileReturned', reason: 'late' })).toBe(2);
    expect(sumSamples(samples, 'herald_replies_dropped_total', { reply_type: 'ProfileReturned', reason: 'duplicate' })).toBe(1);
    expect(samples.filter((x) => x.name === 'herald_replies_dropped_total').every((x) => !('requester' in x.labels))).toBe(true);
  });

  it('counts requests repliers skipped past their deadline, by group and request type (never by requester)', async () => {
    const fixture = testApp({ healed: { value: true } });
    const metrics = createMetrics({ app: fixture.app, pollIntervalMs: 60_000 });
    await started(fixture, metrics);
    // the fact a @herald/reply replier emits for a request read after its caller gave up
    for (const [group, lateByMs] of [['users', 40], ['users', 2_500], ['profiles', 10]] as const) {
      fixture.app.instrumentation.emit({ kind: 'request-expired', group, topic: 'users.profile', requestType: 'ProfileRequested', requester: `gateway-${lateByMs}`, lateByMs });
    }
    const samples = await scrape(metrics);
    expect(sumSamples(samples, 'herald_requests_expired_total', { group: 'users', request_type: 'ProfileRequested' })).toBe(2);
    expect(sumSamples(samples, 'herald_requests_expired_total', { group: 'profiles', request_type: 'ProfileRequested' })).toBe(1);
    expect(samples.filter((x) => x.name === 'herald_requests_expired_total').map((x) => Object.keys(x.labels).sort())).toEqual([
      ['group', 'request_type'],
      ['group', 'request_type'],
    ]);
  });

  it('counts saga transitions by saga and transition, times the sagas that ended, and counts fired timers', async () => {
    const fixture = testApp({ healed: { value: true } });
    const metrics = createMetrics({ app: fixture.app, pollIntervalMs: 60_000 });
    await started(fixture, metrics);
    // the facts @herald/saga emits once a saga's change committed, and the timer scheduler's
    const emit = (fact: Parameters<typeof fixture.app.instrumentation.emit>[0]) => fixture.app.instrumentation.emit(fact);
    emit({ kind: 'saga', saga: 'order', transition: 'started' });
    emit({ kind: 'saga', saga: 'order', transition: 'started' });
    emit({ kind: 'saga', saga: 'order', transition: 'step-timed-out', step: 'payment' });
    emit({ kind: 'saga', saga: 'order', transition: 'failed', step: 'payment', durationMs: 30_000 });
    emit({ kind: 'saga', saga: 'order', transition: 'completed', durationMs: 1_500 });
    emit({ kind: 'timers-fired', count: 3 });
    const s = await scrape(metrics);
    expect(sumSamples(s, 'herald_saga_transitions_total', { saga: 'order', transition: 'started' })).toBe(2);
    expect(sumSamples(s, 'herald_saga_transitions_total', { saga: 'order', transition: 'step_timed_out' })).toBe(1);
    expect(sumSamples(s, 'herald_saga_duration_seconds_count', { saga: 'order', outcome: 'failed' })).toBe(1);
    expect(sumSamples(s, 'herald_saga_duration_seconds_sum', { saga: 'order', outcome: 'failed' })).toBe(30);
    expect(sumSamples(s, 'herald_saga_duration_seconds_sum', { saga: 'order', outcome: 'completed' })).toBe(1.5);
    expect(sumSamples(s, 'herald_timers_fired_total', {})).toBe(3);
  });

  it("shows counters whose label values are known at 0 before their first increase, so Prometheus' increase() sees it", async () => {
    const fixture = testApp({ relay: false });
    const metrics = createMetrics({ app: fixture.app, pollIntervalMs: 0 });
    const zeros = (s: ExpositionSample[], name: string) => s.filter((x) => x.name === name && x.value === 0).map((x) => Object.values(x.labels).join(' ')).sort();
    let s = await scrape(metrics);
    // the sources this app's broker and stores can answer, and both relay failure causes
    expect(zeros(s, 'herald_metrics_read_errors_total')).toEqual(['dead_letters', 'lag', 'outbox', 'sagas']);
    expect(zeros(s, 'herald_relay_failures_total')).toEqual(['chaos', 'error']);
    // a saga's label value is known from its first fact: every transition is there from then on
    fixture.app.instrumentation.emit({ kind: 'saga', saga: 'order', transition: 'started' });
    s = await scrape(metrics);
    expect(sumSamples(s, 'herald_saga_transitions_total', { saga: 'order', transition: 'started' })).toBe(1);
    expect(zeros(s, 'herald_saga_transitions_total')).toEqual(['order compensating', 'order completed', 'order failed', 'order start_timed_out', 'order step_completed', 'order step_timed_out']);
    // a group, topic and event type are known from their first delivery: every outcome is there from
    // then on, so the first dead letter of OrderPlaced in billing is an increase from 0
    expect(zeros(s, 'herald_events_handled_total')).toEqual([]);
    const handled = { kind: 'handled', group: 'billing', handler: 'billing:OrderPlaced', eventId: 'e-1', eventType: 'OrderPlaced', topic: 'orders', partition: 0, offset: 0, attempts: 1, durationMs: 2, latencyMs: 3 } as const;
    fixture.app.instrumentation.emit({ ...handled, outcome: 'applied' });
    s = await scrape(metrics);
    expect(sumSamples(s, 'herald_events_handled_total', { group: 'billing', outcome: 'applied' })).toBe(1);
    expect(zeros(s, 'herald_events_handled_total')).toEqual(['billing orders OrderPlaced dead-lettered', 'billing orders OrderPlaced duplicate', 'billing orders OrderPlaced parked']);
    fixture.app.instrumentation.emit({ ...handled, eventId: 'e-2', offset: 1, outcome: 'dead-lettered' });
    s = await scrape(metrics);
    expect(sumSamples(s, 'herald_events_handled_total', { group: 'billing', outcome: 'dead-lettered' })).toBe(1);
    expect(zeros(s, 'herald_events_handled_total')).toEqual(['billing orders OrderPlaced duplicate', 'billing orders OrderPlaced parked']);
    await metrics.close({ deadlineMs: 0 });
  });

  it('reads the outbox backlog and the age of its oldest record, on the injected clock', async () => {
    const clock = createManualClock(1_000_000);
    const fixture = testApp({ clock, relay: false });
    const metrics = createMetrics({ app: fixture.app, pollIntervalMs: 5_000 });
    fixture.app.use(metrics);
    await fixture.app.start({ groups: false });
    onClose(() => fixture.app.close({ deadlineMs: 0 }));
    await fixture.app.ready();
    await eventually(() => clock.pending() === 1, 'the metrics waiting for their next read');
    await fixture.app.publish(OrderPlaced, { orderId: 'o-1' });
    await clock.advance(2_000);
    await fixture.app.publish(OrderPlaced, { orderId: 'o-2' });
    let s = await scrape(metrics);
    expect(sumSamples(s, 'herald_outbox_pending', { topic: 'orders' })).toBe(0); // not read yet: the first read ran at start
    await clock.advance(3_000); // the interval's read
    await eventually(async () => sumSamples(await scrape(metrics), 'herald_outbox_pending', { topic: 'orders' }) === 2, 'the interval read');
    await clock.advance(1_500); // no read due; the age still grows, computed at scrape
    s = await scrape(metrics);
    expect(sumSamples(s, 'herald_outbox_oldest_pending_age_seconds', { topic: 'orders' })).toBe(6.5);
    expect(sumSamples(s, 'herald_outbox_pending', { topic: OrderBilled.topic })).toBe(0);
  });

  it('takes lag from the facts of its own groups when the broker cannot be inspected', async () => {
    const inner = memoryBroker();
    const broker = { publish: inner.publish.bind(inner), subscribe: inner.subscribe.bind(inner), close: inner.close.bind(inner) };
    const fixture = testApp({ broker });
    const metrics = createMetrics({ app: fixture.app, pollIntervalMs: 60_000 });
    await started(fixture, metrics);
    for (const orderId of ['o-1', 'o-2', 'o-3']) await fixture.app.publish(OrderPlaced, { orderId });
    await fixture.untilHandled(6);
    await eventually(async () => (await scrape(metrics)).some((x) => x.name === 'herald_consumer_lag' && x.labels['group'] === 'audit'), 'a lag fact of audit');
    const s = await scrape(metrics);
    const lags = s.filter((x) => x.name === 'herald_consumer_lag');
    expect(lags.length).toBeGreaterThan(0);
    for (const lag of lags) expect(lag.value).toBeGreaterThanOrEqual(0);
    await eventually(async () => sumSamples(await scrape(metrics), 'herald_consumer_lag') === 0, 'lag 0 from the facts');
    expect(s.some((x) => x.name === 'herald_consumer_group_members')).toBe(false);
  });
});
