import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { canInspect, encodeEnvelopeValue, type Broker, type Envelope, type InstrumentationEvent } from '@herald/core';
import { eventually } from '@herald/testing';
import { loadConfig } from '../src/config.js';
import { GetProfile, GROUPS, NotificationRequested, OrderStatusUpdated, UserRegistered } from '../src/events.js';
import { createAsyncOrders, type AsyncOrders } from '../src/system.js';

const dir = mkdtempSync(join(tmpdir(), 'herald-notification-'));
const ENV = { HERALD_DATA_DIR: dir, HERALD_LOG_LEVEL: 'warn', PORT: '0', PROFILE_TIMEOUT_MS: '200', HERALD_RETRY_INITIAL_DELAY_MS: '10', HERALD_RETRY_MAX_DELAY_MS: '50' };
const running: AsyncOrders[] = [];

async function start(services: string): Promise<AsyncOrders> {
  const system = await createAsyncOrders(loadConfig(ENV, ['--service', services]), ENV);
  running.push(system);
  await system.start();
  return system;
}

/** Records appended to a topic so far (the embedded log keeps them all here). */
async function topicRecords(broker: Broker, topic: string): Promise<number> {
  if (!canInspect(broker)) throw new Error('the embedded log describes its topics');
  const [description] = await broker.describeTopics([topic]);
  return (description?.partitions ?? []).reduce((sum, p) => sum + p.end - p.start, 0);
}

/**
 * Seed 004's notification service asks the user service for a contact before its transaction; a
 * status it already notified about, delivered again (a relay's lost acknowledgement), must be
 * dropped as a duplicate without that request — also while the user service is down.
 */
describe('notification service', () => {
  afterAll(async () => {
    for (const system of running) await system.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('drops a redelivered order status as a duplicate without asking the user service for a profile', async () => {
    const first = await start('user,notification');
    await first.app.publish(UserRegistered, { username: 'ana', email: 'ana@example.org', registeredAt: 1, source: 'test' });
    const status = await first.app.publish(OrderStatusUpdated, {
      requestId: 'r-1',
      orderId: 'o-1',
      username: 'ana',
      status: 'PAID',
      previousStatus: 'PENDING',
      totalCents: 1_500,
      updatedAt: 2,
      metadata: {},
    });
    await eventually(async () => ((await topicRecords(first.app.broker, NotificationRequested.topic)) === 2 ? true : undefined), 15_000, 'the welcome and the order notification');
    expect(await topicRecords(first.app.broker, GetProfile.request.topic)).toBe(1);
    await first.close();

    // the user service is gone: a profile request now times out
    const second = await start('notification');
    const handled: Extract<InstrumentationEvent, { kind: 'handled' }>[] = [];
    second.app.instrumentation.on((event) => {
      if (event.kind === 'handled' && event.group === GROUPS.notification && event.eventId === status.id) handled.push(event);
    });
    await redeliver(second.app.broker, status);
    await eventually(() => (handled.length > 0 ? true : undefined), 10_000, 'the redelivery handled');
    expect(handled.map((h) => [h.outcome, h.attempts])).toEqual([['duplicate', 1]]);
    expect(await topicRecords(second.app.broker, GetProfile.request.topic), 'no second profile request').toBe(1);
    expect(await topicRecords(second.app.broker, NotificationRequested.topic), 'no second notification').toBe(2);
  });
});

/** Appends the event to its topic again, as a relay does when the broker's acknowledgement was lost. */
async function redeliver(broker: Broker, event: Envelope): Promise<void> {
  await broker.publish([{ topic: event.topic, key: event.key, value: encodeEnvelopeValue(event), headers: event.headers }]);
}
