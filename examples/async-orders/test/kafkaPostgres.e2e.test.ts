import { startKafkaMock, type KafkaMock } from '@herald/testing/kafka-mock';
import { startPostgresCluster, type PostgresCluster } from '@herald/testing/postgres-cluster';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, sleep } from './support/client.js';
import { openTables, type Tables } from './support/db.js';
import { Processes } from './support/processes.js';
import { makePlan, runPlan, verifyResults } from './support/scenario.js';

// Seed 004 on Kafka (librdkafka's mock cluster) + PostgreSQL, configured by environment only: two
// gateway replicas (each with auth), order, billing, user and notification + sender, as separate
// processes, with relay chaos and transient handler failures. Billing and one gateway replica are
// SIGKILLed mid-run; clients of the dead replica retry their keys on the other one (or poll the
// Location of a 202) and get their answers.

const STARTING_BALANCE = 10_000;
let mock: KafkaMock | undefined;
let cluster: PostgresCluster | undefined;
let env: Record<string, string> = {};
let processes: Processes;
let tables: Tables | undefined;
const gateways = { urls: () => ['gateway-a', 'gateway-b'].filter((n) => processes.alive(n)).map((n) => processes.url(n)) };

beforeAll(async () => {
  [mock, cluster] = await Promise.all([startKafkaMock({ brokers: 1 }), startPostgresCluster()]);
  env = {
    ...mock.engineEnv,
    DATABASE_URL: await cluster.createDatabase('async_orders'),
    HERALD_PG_POOL_SIZE: '4',
    STARTING_BALANCE_CENTS: String(STARTING_BALANCE),
    PAYMENT_TIMEOUT_MS: '120000',
    HERALD_CHAOS_RATE: '0.2',
    HERALD_CHAOS_AFTER_ACCEPT_RATE: '0.05',
    HANDLER_FAILURE_RATE: '0.1',
  };
  processes = new Processes(env);
  await processes.start('gateway-a', 'gateway,auth');
  await Promise.all([
    processes.start('gateway-b', 'gateway,auth'),
    processes.start('order', 'order'),
    processes.start('billing', 'billing'),
    processes.start('user', 'user'),
    processes.start('notify', 'notification,sender'),
  ]);
  tables = await openTables(env);
}, 240_000);
afterAll(async () => {
  await tables?.close();
  await processes?.stopAll();
  await Promise.all([mock?.stop(), cluster?.stop()]);
});

describe('async-orders on Kafka + PostgreSQL with two gateway replicas', () => {
  it('answers every client, ends every order PAID or INSUFFICIENT_FUNDS, and balances add up across SIGKILLs of billing and a gateway', async () => {
    const plan = makePlan({ prefix: 'k', users: 10, deposits: 2, orders: 3, seed: 11 });
    const progress = { done: 0 };
    const stats = { failovers: 0, polled: 0, inFlight: 0 };
    let finished = false;
    let open!: () => void;
    const gate = { first: 3, open: new Promise<void>((resolve) => (open = resolve)) };
    const run = runPlan(plan, gateways, { concurrency: 10, progress, stats, gate }).finally(() => (finished = true));
    await eventually(() => (progress.done >= 10 ? true : undefined), 120_000, 'a third of the first operations');
    await Promise.all([processes.crash('billing'), processes.crash('gateway-a')]);
    // every user's last two orders go out with billing and one gateway dead: none can end yet
    open();
    await sleep(1_000);
    expect(finished).toBe(false);
    await processes.restart('billing');
    const results = await run;
    expect(gateways.urls()).toEqual([processes.url('gateway-b')]);
    // clients of the dead replica got their answers on the other one
    expect(stats.failovers).toBeGreaterThan(0);
    await verifyResults(results, { startingBalanceCents: STARTING_BALANCE, statuses: ['PAID', 'INSUFFICIENT_FUNDS'], timeoutMs: 90_000 });
    expect(await tables!.count('SELECT COUNT(*) FROM billing_payments')).toBe(plan.reduce((n, p) => n + p.orders.length, 0));
    expect(await tables!.count('SELECT COUNT(*) FROM billing_deposits')).toBe(plan.reduce((n, p) => n + p.deposits.length, 0));
  }, 300_000);
});
