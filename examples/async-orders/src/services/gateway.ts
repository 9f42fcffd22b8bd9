import { HeraldError, uuidv7 } from '@herald/core';
import type { App, SqlTx } from '@herald/core';
import { HttpErrorCodes, type Gateway, type RouteResponse } from '@herald/http';
import type { EventWaiter } from '@herald/reply';
import { Type, type Static } from '@sinclair/typebox';
import { DepositApplied, DepositRequested, GROUPS, OrderCreationRequested, OrderItem, OrderStatusUpdated, orderTotal, type OrderStatus } from '../events.js';

/** Domain error codes of the gateway's routes. */
export const GATEWAY_ERRORS = { orderNotFound: 'order-not-found', requestNotFound: 'request-not-found', depositNotFound: 'deposit-not-found' } as const;

/** How an order can be paid: from the billing balance, the only method billing has. */
export const PAYMENT_METHODS = ['balance'] as const;

/** Has a character other than white space: a blank value names nothing. */
const NOT_BLANK = '\\S';

// the order service "validates the input" (seed 004): the gateway refuses it before it becomes an
// event, with 422 naming each field. An item is exactly its three fields (anything else would be
// stored with the order), no text is blank, and the payment method is one billing takes.
const OrderItemBody = Type.Object({ ...OrderItem.properties, sku: Type.String({ minLength: 1, maxLength: 100, pattern: NOT_BLANK }) }, { additionalProperties: false });
const CreateOrderBody = Type.Object(
  {
    items: Type.Array(OrderItemBody, { minItems: 1, maxItems: 100 }),
    deliveryAddress: Type.String({ minLength: 1, maxLength: 500, pattern: NOT_BLANK }),
    paymentMethod: Type.Union(PAYMENT_METHODS.map((method) => Type.Literal(method))),
  },
  { additionalProperties: false },
);
const DepositBody = Type.Object({ amountCents: Type.Integer({ minimum: 1, maximum: 100_000_000_00 }) }, { additionalProperties: false });
// a path id is looked up whatever its shape: one that is not the user's is 404 (a path too long
// for the gateway is its 414 uri-too-long)
const IdParams = Type.Object({ id: Type.String() });

/** An order request as GET /requests/{id} and GET /orders/{id} show it. */
export interface OrderView {
  readonly requestId: string;
  readonly orderId: string | null;
  readonly status: OrderStatus;
  readonly totalCents: number;
  readonly history: readonly { readonly status: OrderStatus; readonly at: number }[];
}

/** Options of {@link registerGatewayRoutes}. */
export interface GatewayRoutesOptions {
  readonly app: App<SqlTx>;
  /** Reads OrderStatusUpdated and DepositApplied in this replica's own group. */
  readonly waiter: EventWaiter;
  /** How long POST /orders and POST /billing/deposit hold the request before answering 202. */
  readonly waitMs: number;
  /** The role a caller must hold (else 403). */
  readonly role: string;
}

/**
 * The API gateway (seed 004): every route needs a bearer token; the caller's username is the
 * `X-Username` on the events each request publishes, and each user sees only their own orders,
 * requests and notifications (404 otherwise).
 *
 * `POST /orders` publishes OrderCreationRequested (correlation id: a new request id) and holds the
 * request until the order's OrderStatusUpdated arrives (201 with the final status), or answers 202
 * with `Location: /requests/{id}` past `waitMs`. `POST /billing/deposit` does the same with
 * DepositApplied (200 with the new balance). Both are deduplicated by `Idempotency-Key`, scoped to
 * the caller: the same key again gets the same answer, from the state when it is already known.
 */
export function registerGatewayRoutes(gateway: Gateway<SqlTx>, options: GatewayRoutesOptions): void {
  const { app, waiter } = options;
  const roles = [options.role];
  const read = <T>(work: (tx: SqlTx) => Promise<T>) => app.transaction(work);

  gateway.command({
    method: 'POST',
    url: '/orders',
    roles,
    body: CreateOrderBody,
    status: 202,
    handle: async ({ body, tx, publish, principal }) => {
      const requestId = uuidv7();
      const username = principal!.username;
      const now = app.clock.now();
      const totalCents = orderTotal(body.items);
      await tx.execute("INSERT INTO gateway_order_requests (request_id, username, order_id, status, total_cents, created_at) VALUES ($1, $2, NULL, 'PENDING', $3, $4)", [
        requestId,
        username,
        totalCents,
        now,
      ]);
      await tx.execute("INSERT INTO gateway_order_history (request_id, status, at) VALUES ($1, 'PENDING', $2)", [requestId, now]);
      await publish(OrderCreationRequested, { requestId, username, ...body, createdAt: now }, { correlationId: requestId });
      return { requestId, status: 'PENDING' as const, totalCents };
    },
    awaitEvent: {
      waiter,
      timeoutMs: options.waitMs,
      correlationId: (result) => result.requestId,
      until: (event) => event.type === OrderStatusUpdated.type,
      answer: (event) => orderAnswer(event.data as Static<typeof OrderStatusUpdated.schema>),
      lookup: async (result) => {
        const [row] = await read((tx) => tx.query<RequestRow>('SELECT * FROM gateway_order_requests WHERE request_id = $1', [result.requestId]));
        return row && row.status !== 'PENDING' ? orderAnswer({ requestId: row.request_id, orderId: row.order_id!, status: row.status, totalCents: row.total_cents }) : undefined;
      },
      location: (result) => `/requests/${result.requestId}`,
      pending: (result) => ({ requestId: result.requestId, status: 'PENDING' }),
    },
  });

  gateway.command({
    method: 'POST',
    url: '/billing/deposit',
    roles,
    body: DepositBody,
    status: 202,
    handle: async ({ body, tx, publish, principal }) => {
      const depositId = uuidv7();
      const username = principal!.username;
      const now = app.clock.now();
      await tx.execute('INSERT INTO gateway_deposit_requests (deposit_id, username, amount_cents, created_at) VALUES ($1, $2, $3, $4)', [depositId, username, body.amountCents, now]);
      await publish(DepositRequested, { depositId, username, amountCents: body.amountCents, requestedAt: now }, { correlationId: depositId });
      return { depositId, status: 'PENDING' as const, amountCents: body.amountCents };
    },
    awaitEvent: {
      waiter,
      timeoutMs: options.waitMs,
      correlationId: (result) => result.depositId,
      until: (event) => event.type === DepositApplied.type,
      answer: (event) => ({ status: 200, body: { balanceCents: (event.data as { balanceCents: number }).balanceCents } }),
      lookup: async (result) => {
        const [row] = await read((tx) => tx.query<{ balance_after_cents: number }>('SELECT balance_after_cents FROM billing_deposits WHERE deposit_id = $1', [result.depositId]));
        return row ? { status: 200, body: { balanceCents: row.balance_after_cents } } : undefined;
      },
      location: (result) => `/billing/deposits/${result.depositId}`,
      pending: (result) => ({ depositId: result.depositId, status: 'PENDING' }),
    },
  });

  gateway.query({
    url: '/billing/balance',
    roles,
    handle: async ({ principal }) => {
      const [row] = await read((tx) => tx.query<{ balance_cents: number }>('SELECT balance_cents FROM billing_accounts WHERE username = $1', [principal!.username]));
      // the account is opened by billing once it saw the registration; until then the balance is not known
      if (!row) throw new HeraldError(HttpErrorCodes.unavailable, 'the account is being opened; try again shortly', { retriable: true });
      return { balanceCents: row.balance_cents };
    },
  });

  gateway.query({
    url: '/billing/deposits/:id',
    roles,
    params: IdParams,
    handle: async ({ params, principal }) => {
      const rows = await read((tx) =>
        tx.query<{ deposit_id: string; amount_cents: number; balance_after_cents: number | null }>(
          `SELECT r.deposit_id, r.amount_cents, d.balance_after_cents
             FROM gateway_deposit_requests r LEFT JOIN billing_deposits d ON d.deposit_id = r.deposit_id
            WHERE r.deposit_id = $1 AND r.username = $2`,
          [params.id, principal!.username],
        ),
      );
      const row = rows[0];
      if (!row) throw new HeraldError(GATEWAY_ERRORS.depositNotFound, `no deposit ${params.id}`);
      const applied = row.balance_after_cents !== null;
      return { depositId: row.deposit_id, status: applied ? 'APPLIED' : 'PENDING', amountCents: row.amount_cents, balanceCents: applied ? row.balance_after_cents! : null };
    },
  });

  const view = async (column: 'request_id' | 'order_id', id: string, username: string, missing: string): Promise<OrderView> => {
    const found = await read(async (tx) => {
      const [row] = await tx.query<RequestRow>(`SELECT * FROM gateway_order_requests WHERE ${column} = $1 AND username = $2`, [id, username]);
      if (!row) return undefined;
      const history = await tx.query<{ status: OrderStatus; at: number }>('SELECT status, at FROM gateway_order_history WHERE request_id = $1 ORDER BY at, status', [row.request_id]);
      return { row, history };
    });
    if (!found) throw new HeraldError(missing, `no ${column === 'order_id' ? 'order' : 'request'} ${id}`);
    const { row, history } = found;
    return {
      requestId: row.request_id,
      orderId: row.order_id,
      status: row.status,
      totalCents: row.total_cents,
      history: history.map((h) => ({ status: h.status, at: h.at })),
    };
  };
  gateway.query({ url: '/requests/:id', params: IdParams, roles, handle: ({ params, principal }) => view('request_id', params.id, principal!.username, GATEWAY_ERRORS.requestNotFound) });
  gateway.query({ url: '/orders/:id', params: IdParams, roles, handle: ({ params, principal }) => view('order_id', params.id, principal!.username, GATEWAY_ERRORS.orderNotFound) });

  gateway.query({
    url: '/notifications',
    roles,
    handle: async ({ principal }) => {
      const rows = await read((tx) =>
        tx.query<{ notification_id: string; type: string; subject: string; content: string; order_id: string | null; sent_at: number }>(
          'SELECT notification_id, type, subject, content, order_id, sent_at FROM notifications WHERE username = $1 ORDER BY sent_at, notification_id',
          [principal!.username],
        ),
      );
      return {
        notifications: rows.map((r) => ({ notificationId: r.notification_id, type: r.type, subject: r.subject, content: r.content, orderId: r.order_id, sentAt: r.sent_at })),
      };
    },
  });
}

/**
 * The gateway's read model of the orders it was asked for (seed 004: "the gateway saves the
 * status"): each final OrderStatusUpdated moves its request out of PENDING, in the gateway's
 * consumer group (one replica handles each event; all replicas read the result).
 */
export function registerGatewayProjection(app: App<SqlTx>): void {
  app.on(OrderStatusUpdated, { group: GROUPS.gateway }, async (event, ctx) => {
    const { requestId, orderId, status, updatedAt } = event.data;
    await ctx.tx.execute("UPDATE gateway_order_requests SET status = $1, order_id = $2 WHERE request_id = $3 AND status = 'PENDING'", [status, orderId, requestId]);
    await ctx.tx.execute('INSERT INTO gateway_order_history (request_id, status, at) VALUES ($1, $2, $3) ON CONFLICT (request_id, status) DO NOTHING', [requestId, status, updatedAt]);
  });
}

interface RequestRow {
  request_id: string;
  username: string;
  order_id: string | null;
  status: OrderStatus;
  total_cents: number;
}

function orderAnswer(order: { requestId: string; orderId: string; status: OrderStatus; totalCents: number }): RouteResponse {
  return { status: 201, body: { orderId: order.orderId, requestId: order.requestId, status: order.status, totalCents: order.totalCents } };
}
