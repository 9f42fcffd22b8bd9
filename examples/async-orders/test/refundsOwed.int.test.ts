import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseExposition } from '@herald/metrics';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REFUND_OWED_AGE_METRIC, REFUNDS_OWED_CENTS_METRIC } from '../src/businessMetrics.js';
import { loadConfig } from '../src/config.js';
import { GROUPS, RefundRequested } from '../src/events.js';
import { createAsyncOrders, type AsyncOrders } from '../src/system.js';
import { Customer, eventually, orderBody } from './support/client.js';
import { refuseWrites, SAGA_TABLE } from './support/refuse.js';

// A refund billing cannot record, on the embedded engine (a real SQLite file): the order timed out
// with its payment taken, billing's RefundRequested is a dead letter, and applying it from the
// letter keeps failing while the cause stays (a trigger refuses the refund's row). The dead-letter
// alert stops once the letter is 10 minutes old and the customer was told nothing was charged; the
// money owed gauges say so until the refund is given back.

const dir = mkdtempSync(join(tmpdir(), 'herald-async-orders-owed-'));
const env = {
  HERALD_DATA_DIR: dir,
  HERALD_KAFKA_BROKERS: '',
  DATABASE_URL: '',
  HERALD_LOG_LEVEL: 'silent',
  PORT: '0',
  HERALD_INSTANCE_ID: 'refunds-owed-test',
  HERALD_RETRY_MAX_ATTEMPTS: '2',
  HERALD_RETRY_INITIAL_DELAY_MS: '10',
  HERALD_RETRY_MAX_DELAY_MS: '100',
  STARTING_BALANCE_CENTS: '10000',
  ORDER_WAIT_MS: '10000',
  PAYMENT_TIMEOUT_MS: '3000',
};
let shop: AsyncOrders;
let url: string;

beforeAll(async () => {
  shop = await createAsyncOrders(loadConfig(env, []), env);
  url = (await shop.start()).url!;
}, 60_000);
afterAll(async () => {
  await shop?.close();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

async function gauge(name: string): Promise<number | undefined> {
  return parseExposition(await fetch(`${url}/metrics`).then((r) => r.text())).find((s) => s.name === name)?.value;
}

describe('a refund billing could not give back', () => {
  it('is reported owed, with its amount and age, until the cause is fixed and the money comes back', async () => {
    const ann = await new Customer(url, 'ann').signUp();
    const balance = async () => ((await ann.get('/billing/balance')).body as { balanceCents?: number }).balanceCents;
    await eventually(async () => ((await balance()) === 10_000 ? true : undefined), 10_000, 'ann’s account');
    expect({ cents: await gauge(REFUNDS_OWED_CENTS_METRIC), age: await gauge(REFUND_OWED_AGE_METRIC) }).toEqual({ cents: 0, age: 0 });

    // billing's success never reaches ann's saga (the order times out with the money taken, and
    // the order service asks for the refund), and billing cannot record ann's refunds
    const liftSaga = await refuseWrites(shop, {
      name: 'refuse_ann_payments',
      table: SAGA_TABLE,
      when: { sqlite: "(NEW.status = 'completed' AND json_extract(NEW.state, '$.data.username') = 'ann') OR json_extract(NEW.state, '$.early[0].data.username') = 'ann'", postgres: 'false' },
    });
    const liftRefunds = await refuseWrites(shop, { name: 'refuse_ann_refunds', table: { sqlite: 'billing_refunds', postgres: 'billing_refunds' }, when: { sqlite: "NEW.username = 'ann'", postgres: 'false' } });
    const answer = await ann.order(orderBody(3_000), 'ann-1');
    const body = answer.body as { requestId: string; status: string };
    expect({ status: answer.status, orderStatus: body.status }).toEqual({ status: 201, orderStatus: 'PAYMENT_TIMEOUT' });
    await eventually(async () => {
      const letters = await shop.app.deadLetters({ group: GROUPS.billing });
      return letters.find((l) => l.eventType === RefundRequested.type && JSON.parse(l.envelope).correlationId === body.requestId);
    }, 15_000, 'billing’s letter of the refund');
    expect(await balance()).toBe(7_000);

    // owed since the order ended, for as long as the refund cannot be recorded
    expect(await gauge(REFUNDS_OWED_CENTS_METRIC)).toBe(3_000);
    const [order] = await shop.app.transaction((tx) => tx.query<{ updated_at: number }>('SELECT updated_at FROM orders WHERE request_id = $1', [body.requestId]));
    const age = await gauge(REFUND_OWED_AGE_METRIC);
    expect(age).toBeGreaterThan(0);
    expect(age! * 1000).toBeLessThanOrEqual(shop.app.clock.now() - Number(order!.updated_at) + 1);

    // the cause fixed (no redrive): the money comes back, and nothing is owed
    await liftRefunds();
    await liftSaga();
    await eventually(async () => ((await balance()) === 10_000 ? true : undefined), 45_000, 'ann’s balance to be 10000');
    expect({ cents: await gauge(REFUNDS_OWED_CENTS_METRIC), age: await gauge(REFUND_OWED_AGE_METRIC) }).toEqual({ cents: 0, age: 0 });
  }, 90_000);
});
