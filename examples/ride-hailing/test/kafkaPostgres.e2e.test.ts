import { startKafkaMock, type KafkaMock } from '@herald/testing/kafka-mock';
import { startPostgresCluster, type PostgresCluster } from '@herald/testing/postgres-cluster';
import { heldPartitions, holdingPartitions, type ProcessGroup } from '@herald/testing/processes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, RideApi } from './support/client.js';
import { rideProcesses } from './support/processes.js';
import { expectSettled, ride } from './support/scenario.js';

// Seed 000 on Kafka (librdkafka's mock cluster) + PostgreSQL, configured by environment only: the
// same services as separate processes, two replicas of payment sharing its group's partitions,
// relay chaos on. One payment replica is SIGKILLed mid-run; the other takes its partitions over.

let mock: KafkaMock | undefined;
let cluster: PostgresCluster | undefined;
let processes: ProcessGroup | undefined;
let api: RideApi;

beforeAll(async () => {
  [mock, cluster] = await Promise.all([startKafkaMock({ brokers: 1 }), startPostgresCluster()]);
  processes = rideProcesses({
    ...mock.engineEnv,
    DATABASE_URL: await cluster.createDatabase('ride_hailing'),
    HERALD_PG_POOL_SIZE: '4',
    HERALD_CHAOS_RATE: '0.2',
    HERALD_CHAOS_AFTER_ACCEPT_RATE: '0.05',
  });
  await processes.start('api', 'api');
  await Promise.all([
    processes.start('booking', 'booking'),
    processes.start('pricing', 'pricing'),
    processes.start('driver', 'driver'),
    processes.start('payment-a', 'payment'),
    processes.start('payment-b', 'payment'),
    processes.start('rest', 'notification,realtime,fraud'),
  ]);
  api = new RideApi(processes.url('api'));
}, 240_000);
afterAll(async () => {
  await processes?.stopAll();
  await Promise.all([mock?.stop(), cluster?.stop()]);
});

describe('ride-hailing on Kafka + PostgreSQL with two payment replicas', () => {
  it('settles every booking across a SIGKILL of one payment replica', async () => {
    const progress = { done: 0 };
    const running = ride(() => api, { riders: 6, drivers: 6, bookings: 24, concurrency: 4, progress });
    // awaited below; should the test fail before, its requests failing at teardown are not news
    running.catch(() => {});
    await eventually(() => (progress.done >= 8 ? true : undefined), 120_000, 'a third of the bookings');
    // kill it while it holds partitions: a member holds none while its group rebalances
    const dying = [...(await holdingPartitions(() => processes!.lines('payment-a'), 'payment-service'))];
    await processes!.crash('payment-a');
    await eventually(() => (dying.every((p) => heldPartitions(processes!.lines('payment-b'), 'payment-service').has(p)) ? true : undefined), 60_000, 'payment-b to take them over');
    const views = await expectSettled(() => api, await running);
    expect(new Set(views.map((v) => v.status))).toEqual(new Set(['CANCELLED', 'COMPLETED']));
  }, 300_000);
});
