import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canInspect } from '@herald/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { createRideHailing, type RideHailing } from '../src/system.js';

// Seed 000's topics as the engine provisions them (the embedded log, a real SQLite file): the
// seed's partition counts and retention, whatever the engine's default (7 days) would be.

const DAY_MS = 24 * 60 * 60 * 1000;
const dir = mkdtempSync(join(tmpdir(), 'herald-ride-hailing-topics-'));
const env = { HERALD_DATA_DIR: dir, HERALD_KAFKA_BROKERS: '', DATABASE_URL: '', HERALD_LOG_LEVEL: 'silent', PORT: '0' };
let system: RideHailing;

beforeAll(async () => {
  // one consuming service is enough: every process provisions every topic at start
  system = await createRideHailing(loadConfig(env, ['--service', 'notification']), env);
  await system.start();
}, 60_000);
afterAll(async () => {
  await system?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('ride-hailing topics', () => {
  it('are provisioned with the seed\'s partitions and retention: booking and pricing 7 days, driver 3, payment 30', async () => {
    const { broker } = system.engine;
    if (!canInspect(broker)) throw new Error('the embedded log is expected to be inspectable');
    const topics = await broker.describeTopics(['booking-events', 'driver-events', 'payment-events', 'pricing-events']);
    expect(topics.map((t) => ({ name: t.name, partitions: t.partitions.length, retentionDays: t.retentionMs === null ? null : t.retentionMs / DAY_MS }))).toEqual([
      { name: 'booking-events', partitions: 12, retentionDays: 7 },
      { name: 'driver-events', partitions: 24, retentionDays: 3 },
      { name: 'payment-events', partitions: 6, retentionDays: 30 },
      { name: 'pricing-events', partitions: 12, retentionDays: 7 },
    ]);
  });
});
