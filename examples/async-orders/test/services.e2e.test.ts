import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, sleep } from './support/client.js';
import { openTables, type Tables } from './support/db.js';
import { Processes } from './support/processes.js';
import { makePlan, runPlan, verifyResults } from './support/scenario.js';

// Seed 004 as separate processes on one embedded data directory: gateway + auth, order, billing,
// user, notification + sender. The relay drops 20% of its publishes and "loses" 5% of its acks
// (duplicates), and 10% of handler attempts fail after their writes. Then billing is SIGKILLed
// mid-run and restarted; then stopped while orders wait for payment, which time out, and started
// again: it takes no money for the orders given up (PAYMENT_EXPIRED).

const STARTING_BALANCE = 10_000;
const dir = mkdtempSync(join(tmpdir(), 'herald-async-orders-services-'));
const env = {
  HERALD_DATA_DIR: dir,
  STARTING_BALANCE_CENTS: String(STARTING_BALANCE),
  HERALD_CHAOS_RATE: '0.2',
  HERALD_CHAOS_AFTER_ACCEPT_RATE: '0.05',
  HANDLER_FAILURE_RATE: '0.1',
};
const processes = new Processes(env);
let tables: Tables | undefined;
const gateways = { urls: () => ['gateway'].filter((n) => processes.alive(n)).map((n) => processes.url(n)) };

beforeAll(async () => {
  // the gateway first: it creates the tables and the signing key; the others then start together
  await processes.start('gateway', 'gateway,auth');
  await Promise.all([
    processes.start('order', 'order', { PAYMENT_TIMEOUT_MS: '120000' }),
    processes.start('billing', 'billing'),
    processes.start('user', 'user'),
    processes.start('notify', 'notification,sender'),
  ]);
  tables = await openTables(env);
}, 180_000);
afterAll(async () => {
  await tables?.close();
  await processes.stopAll();
  rmSync(dir, { recursive: true, force: true });
});

describe('async-orders as separate processes with relay chaos and transient failures', () => {
  it('ends every order PAID or INSUFFICIENT_FUNDS with balances that add up, also across a SIGKILL of billing', async () => {
    const plan = makePlan({ prefix: 'u', users: 12, deposits: 2, orders: 4, seed: 4 });
    const progress = { done: 0 };
    let finished = false;
    let open!: () => void;
    const gate = { first: 3, open: new Promise<void>((resolve) => (open = resolve)) };
    const run = runPlan(plan, gateways, { concurrency: 12, progress, gate }).finally(() => (finished = true));
    // billing dies mid-run, with payments and deposits in flight; every user's last three orders
    // go out while it is down (they wait for a payment, so none can end), and it comes back
    await eventually(() => (progress.done >= 12 ? true : undefined), 60_000, 'a third of the first operations');
    await processes.crash('billing');
    open();
    await sleep(1_000);
    expect(finished).toBe(false);
    await processes.restart('billing');
    const results = await run;
    await verifyResults(results, { startingBalanceCents: STARTING_BALANCE, statuses: ['PAID', 'INSUFFICIENT_FUNDS'] });
    const statuses = new Set(results.flatMap((r) => r.orders.map((o) => o.status)));
    expect([...statuses].sort()).toEqual(['INSUFFICIENT_FUNDS', 'PAID']);
    // each order was paid for at most once (the unique key would refuse a second payment row)
    expect(await tables!.count('SELECT COUNT(*) FROM billing_payments')).toBe(plan.reduce((n, p) => n + p.orders.length, 0));
  }, 240_000);

  it('with billing stopped, orders end PAYMENT_TIMEOUT; billing restarted takes no money for them (PAYMENT_EXPIRED) and balances are whole', async () => {
    await processes.stop('billing');
    await processes.stop('order');
    await processes.restart('order', { PAYMENT_TIMEOUT_MS: '1500' });
    const plan = makePlan({ prefix: 't', users: 4, deposits: 0, orders: 2, seed: 7 });
    const results = await runPlan(plan, gateways, { concurrency: 4 });
    for (const order of results.flatMap((r) => r.orders)) expect(order.status).toBe('PAYMENT_TIMEOUT');
    const late = await tables!.count("SELECT COUNT(*) FROM billing_payments WHERE username LIKE 't-%'");
    expect(late).toBe(0);

    await processes.restart('billing');
    // billing answers every order it finds, each past its payBy: no money is taken for an order
    // given up, so none is held until a refund and nothing needs refunding
    await eventually(async () => ((await tables!.count("SELECT COUNT(*) FROM billing_payments WHERE username LIKE 't-%'")) === 8 ? true : undefined), 60_000, 'the late payments');
    expect(await tables!.count("SELECT COUNT(*) FROM billing_payments WHERE username LIKE 't-%' AND status = 'FAILED' AND failure_reason = 'PAYMENT_EXPIRED'")).toBe(8);
    await verifyResults(results, { startingBalanceCents: STARTING_BALANCE, statuses: ['PAYMENT_TIMEOUT'] });
    expect(await tables!.count("SELECT COUNT(*) FROM billing_refunds WHERE username LIKE 't-%'")).toBe(0);
  }, 240_000);
});
