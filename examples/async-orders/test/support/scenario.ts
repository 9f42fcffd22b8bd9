import { expect } from 'vitest';
import { Customer, eventually, orderBody, pool, problemCode, sleep, type Answer } from './client.js';

/** What one user does: deposits and orders (totals in cents), in a deterministic plan. */
export interface UserPlan {
  readonly username: string;
  readonly deposits: readonly number[];
  readonly orders: readonly number[];
}

/** A deterministic workload: `users` users with random deposits and orders from `seed`. */
export function makePlan(options: { prefix: string; users: number; deposits: number; orders: number; seed: number }): UserPlan[] {
  let state = options.seed >>> 0;
  const random = () => ((state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0) / 2 ** 32);
  const between = (min: number, max: number) => min + Math.floor(random() * (max - min + 1));
  return Array.from({ length: options.users }, (_, i) => ({
    username: `${options.prefix}-${i}`,
    deposits: Array.from({ length: options.deposits }, () => between(5, 40) * 100),
    // some users order more than they have, so both outcomes happen
    orders: Array.from({ length: options.orders }, () => between(10, 70) * 100),
  }));
}

/** An order's final answer, as 201 carries it and as polling /requests/{id} ends. */
export interface FinalOrder {
  readonly orderId: string;
  readonly requestId: string;
  readonly status: string;
  readonly totalCents: number;
}

/** What a user's run ended with. */
export interface UserResult {
  readonly plan: UserPlan;
  readonly customer: Customer;
  readonly orders: FinalOrder[];
  readonly depositedCents: number;
  /** Keys whose repeat did not get the answer the key ended with. */
  readonly mismatches: string[];
}

/** Where the clients send requests: the live gateways (a client switches when its replica dies). */
export interface Gateways {
  urls(): readonly string[];
}

/** How the clients got their answers besides a direct one. */
export interface ClientStats {
  /** Requests retried on another gateway after a transport error. */
  failovers: number;
  /** 202s followed by polling their Location. */
  polled: number;
  /** 409s for a key in flight, retried. */
  inFlight: number;
}

/**
 * Holds back part of the plan: each user sends its `first` operations (deposits, then orders) at
 * once and the rest when `open` settles, so a test can crash a service while every user still has
 * operations to send, whatever the machine's speed.
 */
export interface Gate {
  readonly first: number;
  readonly open: Promise<unknown>;
}

/**
 * Runs the plan: every user registers, then makes its deposits and orders concurrently with the
 * other users, each with its own Idempotency-Key, and sends each key again once it has its final
 * answer. A client whose gateway stops answering retries the same key on another gateway; a 202
 * is followed by polling its Location; a 409 in flight (the key's first request died with its
 * replica) is retried after a pause.
 */
export async function runPlan(plans: readonly UserPlan[], gateways: Gateways, options: { concurrency: number; progress?: { done: number }; stats?: ClientStats; gate?: Gate }): Promise<UserResult[]> {
  const stats = options.stats ?? { failovers: 0, polled: 0, inFlight: 0 };
  const results: UserResult[] = [];
  await pool(plans, options.concurrency, async (plan, index) => {
    const customer = await withFailover(gateways, index, (url) => new Customer(url, plan.username).signUp());
    const result: UserResult = { plan, customer, orders: [], depositedCents: 0, mismatches: [] };
    results.push(result);
    const ops = [
      ...plan.deposits.map((amount, i) => async () => {
        const key = `${plan.username}-deposit-${i}`;
        const final = await untilFinal(gateways, stats, customer, key, () => customer.deposit(amount, key));
        (result as { depositedCents: number }).depositedCents += amount;
        const again = await untilFinal(gateways, stats, customer, key, () => customer.deposit(amount, key));
        expect(again.body, key).toHaveProperty('balanceCents');
        if (JSON.stringify(again.body) !== JSON.stringify(final.body)) result.mismatches.push(key);
      }),
      ...plan.orders.map((total, i) => async () => {
        const key = `${plan.username}-order-${i}`;
        const final = await untilFinal(gateways, stats, customer, key, () => customer.order(orderBody(total), key));
        result.orders.push(final.body as FinalOrder);
        const again = await untilFinal(gateways, stats, customer, key, () => customer.order(orderBody(total), key));
        if (JSON.stringify(again.body) !== JSON.stringify(final.body)) result.mismatches.push(key);
      }),
    ];
    const gate = options.gate;
    await Promise.all(
      ops.map(async (op, i) => {
        if (gate && i >= gate.first) await gate.open;
        await op();
        if (options.progress) options.progress.done++;
      }),
    );
  });
  return results;
}

/** Runs `work` against a live gateway, moving to the next one on a transport error. */
async function withFailover<T>(gateways: Gateways, start: number, work: (url: string) => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    const urls = gateways.urls();
    const url = urls[(start + attempt) % urls.length]!;
    try {
      return await work(url);
    } catch (error) {
      if (attempt > 40 || !isTransportError(error)) throw error;
      await sleep(250);
    }
  }
}

/**
 * Sends a keyed request until its final answer: 201 (an order) or 200 (a deposit). Follows a 202
 * by polling its Location, then asks with the key again (the answer then comes from the state);
 * retries a 409 in flight and transport errors (on another gateway).
 */
async function untilFinal(gateways: Gateways, stats: ClientStats, customer: Customer, key: string, send: () => Promise<Answer>): Promise<Answer> {
  for (let attempt = 0; attempt < 200; attempt++) {
    let answer: Answer;
    try {
      answer = await send();
    } catch (error) {
      if (!isTransportError(error)) throw error;
      stats.failovers++;
      moveToNextGateway(gateways, customer);
      await sleep(250);
      continue;
    }
    if (answer.status === 200 || answer.status === 201) return answer;
    if (answer.status === 202) {
      stats.polled++;
      await pollUntilDone(gateways, customer, answer.location!);
      continue;
    }
    if (answer.status === 409 && problemCode(answer) === 'idempotency-key-in-flight') {
      stats.inFlight++;
      await sleep(300);
      continue;
    }
    if (answer.status === 503) {
      await sleep(300);
      continue;
    }
    throw new Error(`${key}: unexpected ${answer.status} ${answer.text}`);
  }
  throw new Error(`${key}: no final answer after 200 attempts`);
}

async function pollUntilDone(gateways: Gateways, customer: Customer, location: string): Promise<void> {
  await eventually(
    async () => {
      try {
        const state = await customer.get(location);
        const status = (state.body as { status?: string }).status;
        return state.status === 200 && status !== 'PENDING' ? true : undefined;
      } catch (error) {
        if (!isTransportError(error)) throw error;
        moveToNextGateway(gateways, customer);
        return undefined;
      }
    },
    120_000,
    `${location} to be final`,
  );
}

/** Points the customer at the live gateway after the one it used (which may be gone). */
function moveToNextGateway(gateways: Gateways, customer: Customer): void {
  const urls = gateways.urls();
  customer.baseUrl = urls[(urls.indexOf(customer.baseUrl) + 1) % urls.length] ?? urls[0]!;
}

function isTransportError(error: unknown): boolean {
  const cause = (error as { cause?: { code?: string } })?.cause;
  return error instanceof TypeError || ['ECONNREFUSED', 'ECONNRESET', 'UND_ERR_SOCKET'].includes(cause?.code ?? '');
}

/**
 * Checks what seed 004 promises once the system is quiet: every order ended in one of `statuses`
 * (and one of each key's answers); each balance equals starting balance + deposits - paid orders
 * and is never negative (refunds of late payments included, so `eventually`); one notification per
 * final status besides the welcome, with the status' type.
 */
export async function verifyResults(results: readonly UserResult[], options: { startingBalanceCents: number; statuses: readonly string[]; timeoutMs?: number }): Promise<void> {
  for (const result of results) {
    const { plan, customer, orders } = result;
    expect(result.mismatches, `${plan.username}: keys answered differently when repeated`).toEqual([]);
    expect(orders, plan.username).toHaveLength(plan.orders.length);
    for (const order of orders) expect(options.statuses, `${plan.username} ${order.requestId}`).toContain(order.status);
    const paid = orders.filter((o) => o.status === 'PAID').reduce((sum, o) => sum + o.totalCents, 0);
    const expected = options.startingBalanceCents + result.depositedCents - paid;
    expect(expected, plan.username).toBeGreaterThanOrEqual(0);
    await eventually(
      async () => {
        const balance = (await customer.get('/billing/balance')).body as { balanceCents: number };
        return balance.balanceCents === expected ? true : undefined;
      },
      options.timeoutMs ?? 60_000,
      `${plan.username}'s balance to be ${expected}`,
    ).catch(async (error: unknown) => {
      throw new Error(`${String(error)}; it is ${(await customer.get('/billing/balance')).text}`);
    });
    const notifications = await eventually(
      async () => {
        const list = ((await customer.get('/notifications')).body as { notifications: { type: string; orderId: string | null }[] }).notifications;
        return list.length >= orders.length + 1 ? list : undefined;
      },
      options.timeoutMs ?? 60_000,
      `${plan.username}'s ${orders.length + 1} notifications`,
    );
    expect(notifications.filter((n) => n.type === 'WELCOME'), plan.username).toHaveLength(1);
    const byOrder = notifications.filter((n) => n.orderId !== null);
    expect(byOrder.map((n) => n.orderId).sort(), plan.username).toEqual(orders.map((o) => o.orderId).sort());
    for (const order of orders) expect(byOrder.find((n) => n.orderId === order.orderId)!.type).toBe(`ORDER_${order.status}`);
  }
}
