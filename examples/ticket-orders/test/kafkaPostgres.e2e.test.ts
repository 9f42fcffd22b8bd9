import { startKafkaMock, type KafkaMock } from '@herald/testing/kafka-mock';
import { startPostgresCluster, type PostgresCluster } from '@herald/testing/postgres-cluster';
import { heldPartitions, holdingPartitions } from '@herald/testing/processes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, pool } from './support/client.js';
import { openPgOrdersDb, type OrdersDb } from './support/db.js';
import { countLog, startExample, stopExample, type ExampleProcess } from './support/processes.js';
import { buildJobs, LIMIT_CENTS, runJob, type ClientStats, type KeyOutcome } from './support/scenario.js';
import { verifyAnswers, verifyDatabase, verifyEveryWorkflow, verifyThroughApi, waitAllFinal } from './support/verify.js';

const ORDERS = 1000;
const CONCURRENCY = 32;
const CONSUMERS = ['payment', 'ticket', 'order'] as const;
const GROUP_OF = { payment: 'payment-service', ticket: 'ticket-service', order: 'order-service' } as const;

/**
 * Engine selection and timings for the librdkafka mock cluster: it holds an empty fetch for all of
 * its max wait, and a rebalance lasts the session timeout minus 1 s, so short sessions make a
 * killed member's partitions move within seconds. Relay claims lapse after 3 s, so a killed
 * relay's keys are taken over quickly.
 */
function kafkaPostgresEnv(mock: KafkaMock, databaseUrl: string): Record<string, string> {
  return {
    ...mock.engineEnv,
    DATABASE_URL: databaseUrl,
    HERALD_PG_POOL_SIZE: '4',
    HERALD_RELAY_LEASE_MS: '3000',
    HERALD_CHAOS_RATE: '0.2',
    HERALD_CHAOS_AFTER_ACCEPT_RATE: '0.05',
    HANDLER_FAILURE_RATE: '0.1',
    PAYMENT_LIMIT_CENTS: String(LIMIT_CENTS),
  };
}

/**
 * Issue 4's end-to-end test: ticket-orders on Kafka (librdkafka mock cluster) + PostgreSQL, the
 * services as separate processes configured only by environment: one api, three relay replicas,
 * two processes of each consumer service. 1,000 orders over HTTP (32 in flight) with 20% of relay
 * publishes dropped and 5% acknowledged-then-failed (duplicates on the log), 10% of handler
 * attempts failing after their writes, every 5th order sent twice with its Idempotency-Key and 40
 * seat races; one relay and one process of each consumer service SIGKILLed mid-run.
 *
 * Per-key order: every event of an order is keyed by the order id, and each of its saga's steps
 * is caused by the previous one, so "in order" means each order's events were written, published
 * and processed in the saga's sequence; checked per order on the workflow view (outbox order of
 * the key, causation chain, timestamps) and on the tables (order, payment, ticket, final status).
 */
describe('ticket-orders on Kafka + PostgreSQL, scaled out, with kills', () => {
  let mock: KafkaMock | undefined;
  let cluster: PostgresCluster | undefined;
  let db: OrdersDb | undefined;
  let env: Record<string, string> = {};
  const processes: ExampleProcess[] = [];
  beforeAll(async () => {
    [mock, cluster] = await Promise.all([startKafkaMock({ brokers: 1 }), startPostgresCluster()]);
    const url = await cluster.createDatabase('ticket_orders');
    env = kafkaPostgresEnv(mock, url);
    db = openPgOrdersDb(url);
  });
  afterAll(async () => {
    await Promise.all(processes.map((p) => stopExample(p)));
    await db?.close();
    await Promise.all([mock?.stop(), cluster?.stop()]);
  });

  it('ends every order, pays once, tickets at most once, never sells a seat twice, keeps each saga in order', { timeout: 300_000 }, async () => {
    const start = (service: string, extra: Record<string, string> = {}) => startExample({ service, env: { ...env, ...extra }, timeoutMs: 120_000 });
    /**
     * Starts the two processes of a consumer service together, and starts the pair again (as an
     * orchestrator would restart them) when one exited because the mock cluster refused its
     * SyncGroup: librdkafka 2.0.2's mock answers INVALID_REQUEST to a follower whose SyncGroup
     * arrives after its leader's (a real broker answers with the assignment), and kafkajs treats
     * that code as fatal. Two new members joining together rarely meet it; a member joining an
     * established one usually does here. Any other failure fails the test.
     */
    let mockSyncRestarts = 0;
    const startPair = async (service: string): Promise<ExampleProcess[]> => {
      for (let attempt = 1; ; attempt++) {
        const results = await Promise.allSettled([start(service), start(service)]);
        const started = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
        if (started.length === 2) {
          processes.push(...started);
          return started;
        }
        await Promise.all(started.map((p) => stopExample(p)));
        const failures = results.flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : []));
        const refusedSync = failures.every((f) => /joining group '[\w-]+' failed/.test(f) && f.includes('"code":42'));
        if (!refusedSync || attempt >= 4) throw new Error(failures.join('\n'));
        mockSyncRestarts++;
      }
    };
    const started = Date.now();
    const api = await start('api', { HERALD_PG_POOL_SIZE: '12' });
    processes.push(api);
    const [relays, ...pairs] = await Promise.all([Promise.all([0, 1, 2].map(() => start('relay'))), ...CONSUMERS.map(startPair)]);
    processes.push(...relays!);
    const consumers = { payment: pairs[0]!, ticket: pairs[1]!, order: pairs[2]! };
    const startupMs = Date.now() - started;
    expect(api.lines.some((l) => l.includes('"msg":"ticket-orders ready"') && l.includes('"engine":"kafka ('))).toBe(true);

    const baseUrl = api.url!;
    const jobs = buildJobs(ORDERS, 'kafka-pg');
    const outcomes = new Map<string, KeyOutcome>();
    const stats: ClientStats = { transportErrors: 0, inFlightRetries: 0, inFlightAfterTransportError: 0 };
    let answered = 0;
    const driving = Date.now();
    const client = pool(jobs, CONCURRENCY, async (job) => {
      await runJob(() => baseUrl, job, outcomes, stats);
      answered++;
    });
    // awaited below; should the test fail before, its requests failing at teardown are not news
    client.catch(() => {});

    // mid-run: kill one relay and one process of each consumer service, while requests and sagas are in flight
    await eventually(() => (answered >= jobs.length * 0.4 ? true : undefined), 120_000, '40% of the jobs answered');
    const victims = [relays[0]!, ...CONSUMERS.map((s) => consumers[s][0]!)];
    // each while it holds partitions: a member holds none while its group rebalances
    const heldBeforeKill = Object.fromEntries(await Promise.all(CONSUMERS.map(async (s) => [s, await holdingPartitions(() => consumers[s][0]!.lines)] as const)));
    const relayChaosBeforeKill = countLog(relays[0]!.lines, 'relay: chaos failure, retrying');
    const answeredAtKill = answered;
    victims.forEach((p) => p.kill('SIGKILL'));
    expect(await Promise.all(victims.map((p) => p.exited))).toEqual(['SIGKILL', 'SIGKILL', 'SIGKILL', 'SIGKILL']);
    await client;
    const requestsMs = Date.now() - driving;

    expect(stats.transportErrors).toBe(0);
    const orderIds = verifyAnswers(jobs, outcomes, { originalSeen: true });
    await waitAllFinal(db!, 150_000);
    const totalMs = Date.now() - driving;
    const prices = new Map([...outcomes.values()].map((o) => [o.request.key, o.request.body.priceCents]));
    const totals = await verifyDatabase(db!, orderIds, prices);
    expect(totals).toEqual({ orders: 960, ticketIssued: 860, cancelled: 100, payments: 960, tickets: 860 });
    await verifyThroughApi(baseUrl, orderIds);
    await verifyEveryWorkflow(baseUrl, orderIds, prices);
    expect(await db!.count('SELECT COUNT(*) FROM herald.dead_letters')).toBe(0);

    // the killed processes were doing work, and the survivors took their partitions over
    expect(relayChaosBeforeKill).toBeGreaterThan(0);
    for (const service of CONSUMERS) {
      const held = heldBeforeKill[service]!;
      expect(held.size, `${service}[0] held partitions when killed`).toBeGreaterThan(0);
      const survivor = heldPartitions(consumers[service][1]!.lines);
      for (const partition of held) expect(survivor.has(partition), `${GROUP_OF[service]}: ${partition} taken over`).toBe(true);
    }
    const relayChaos = relays.reduce((sum, r) => sum + countLog(r.lines, 'relay: chaos failure, retrying'), 0);
    const handlerRetries = processes.reduce((sum, p) => sum + countLog(p.lines, 'handler failed, retrying'), 0);
    expect(relayChaos).toBeGreaterThan(0);
    expect(handlerRetries).toBeGreaterThan(50);
    const duplicates = [...outcomes.values()].filter((o) => o.answers.length > 1).length;
    expect(duplicates).toBeGreaterThan(100);
    console.log(
      JSON.stringify({ test: 'kafka-postgres', requested: ORDERS, ...totals, duplicates, ...stats, answeredAtKill, relayChaos, handlerRetries, mockSyncRestarts, startupMs, requestsMs, totalMs }),
    );

    const survivors = processes.filter((p) => !victims.includes(p));
    expect(await Promise.all(survivors.map((p) => stopExample(p)))).toEqual(survivors.map(() => 0));
  });
});
