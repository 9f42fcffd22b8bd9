import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { DepositRequested, GROUPS } from '../src/events.js';
import { createAsyncOrders, type AsyncOrders } from '../src/system.js';
import { Customer, eventually, problemCode } from './support/client.js';
import { ENGINES } from './support/engines.js';
import { refuseWrites } from './support/refuse.js';

// A deposit the gateway accepted whose DepositRequested billing dead-letters (every service in
// this process): its client must get a final answer, not PENDING for ever, and the letter,
// redriven later, must not credit a deposit its client was told had failed.

describe.each(ENGINES)('a deposit billing dead-letters, on $name', (engine) => {
  let shop: AsyncOrders;
  let url: string;
  let closeEngine: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    const opened = await engine.open();
    closeEngine = opened.close;
    const env = { ...opened.env, HERALD_INSTANCE_ID: 'deposit-failures-test', STARTING_BALANCE_CENTS: '10000', ORDER_WAIT_MS: '10000', HERALD_RETRY_MAX_ATTEMPTS: '2' };
    shop = await createAsyncOrders(loadConfig(env, []), env);
    url = (await shop.start()).url!;
  }, 120_000);

  afterAll(async () => {
    await shop?.close();
    await closeEngine?.();
  }, 60_000);

  const rows = <T>(sql: string, params: unknown[] = []): Promise<T[]> => shop.engine.stores.transaction((tx) => tx.query<T>(sql, params));

  it('answers the held POST /billing/deposit deposit-failed with the reason, the same to the key again, credits nothing, and a redrive of the letter credits nothing either', async () => {
    const max = await new Customer(url, 'max').signUp();
    await eventually(async () => ((await max.get('/billing/balance')).status === 200 ? true : undefined), 10_000, 'max’s account');
    // the database refuses max's deposits: every attempt fails, and the deposit is dead-lettered
    const lift = await refuseWrites(shop, {
      name: 'refuse_max_deposits',
      table: { sqlite: 'billing_deposits', postgres: 'billing_deposits' },
      when: { sqlite: "NEW.username = 'max'", postgres: "NEW.username = 'max'" },
    });
    const answer = await max.deposit(500, 'max-1');
    const { depositId } = answer.body as { depositId: string };
    const letters = (await shop.app.deadLetters({ group: GROUPS.billing })).filter((l) => l.eventType === DepositRequested.type && JSON.parse(l.envelope).correlationId === depositId);
    expect(letters).toEqual([expect.objectContaining({ status: 'dead' })]);
    const [letter] = letters;
    expect({ status: answer.status, code: problemCode(answer), body: answer.body }).toEqual({
      status: 422,
      code: 'deposit-failed',
      body: expect.objectContaining({ depositId: expect.any(String), reason: letter!.reason, instance: `/billing/deposits/${depositId}` }),
    });
    const failed = { depositId, status: 'FAILED', amountCents: 500, balanceCents: null, reason: letter!.reason };
    expect((await max.get(`/billing/deposits/${depositId}`)).body).toEqual(failed);
    const again = await max.deposit(500, 'max-1');
    expect({ status: again.status, body: again.body, replayed: again.replayed }).toEqual({ status: 422, body: answer.body, replayed: true });
    expect((await max.get('/billing/balance')).body).toEqual({ balanceCents: 10_000 });

    // the cause fixed, the operator redrives the letter: max was told the deposit failed (and may
    // have deposited again), so it credits nothing
    await lift();
    expect(await shop.app.redrive({ group: GROUPS.billing, ids: [letter!.id] })).toEqual({ redriven: 1, failed: 0, stillParked: 0 });
    expect(await rows('SELECT deposit_id FROM billing_deposits WHERE deposit_id = $1', [depositId])).toEqual([]);
    expect((await max.get(`/billing/deposits/${depositId}`)).body).toEqual(failed);
    expect((await max.deposit(700, 'max-2')).body).toEqual({ balanceCents: 10_700 });
  });
});
