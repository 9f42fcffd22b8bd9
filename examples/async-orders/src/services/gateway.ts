import { CoreErrors, ErrorCodes, HeraldError, uuidv7 } from '@herald/core';
import type { App, SqlTx, ValidationIssue } from '@herald/core';
import { HttpErrorCodes, PROBLEM_CONTENT_TYPE, toProblem, type Gateway, type RouteResponse } from '@herald/http';
import type { EventWaiter } from '@herald/reply';
import { Type, type Static } from '@sinclair/typebox';
import { failureError, GROUPS, OrderCreationRequested, OrderStatusUpdated, rejectionErrors, type OrderStatus } from '../events.js';
import { OrderRequestBody, orderRequestIssues, orderTotal } from '../orderRules.js';

/** Domain error codes of the gateway's routes. */
export const GATEWAY_ERRORS = {
  orderNotFound: 'order-not-found',
  requestNotFound: 'request-not-found',
  depositNotFound: 'deposit-not-found',
  /** The order service rejected the order (REJECTED): the request broke the order rules. */
  orderRejected: 'order-rejected',
  /** Billing could not apply the deposit (FAILED): nothing was credited, nor will be. */
  depositFailed: 'deposit-failed',
} as const;

/** How the gateway's domain error codes map to HTTP problems (the gateway's `problems.errorKinds`). */
export const GATEWAY_ERROR_KINDS: Readonly<Record<string, string>> = {
  [GATEWAY_ERRORS.orderNotFound]: HttpErrorCodes.notFound,
  [GATEWAY_ERRORS.requestNotFound]: HttpErrorCodes.notFound,
  [GATEWAY_ERRORS.depositNotFound]: HttpErrorCodes.notFound,
  // 422 "Unprocessable request", with the broken rules in `errors`
  [GATEWAY_ERRORS.orderRejected]: ErrorCodes.invalidOptions,
  // 422 too: final (the same key gets it again), whoever is to blame; a new key deposits again
  [GATEWAY_ERRORS.depositFailed]: ErrorCodes.invalidOptions,
};

// a path id is looked up whatever its shape: one that is not the user's is 404 (a path too long
// for the gateway is its 414 uri-too-long)
export const IdParams = Type.Object({ id: Type.String() });

/** An order request as GET /requests/{id} and GET /orders/{id} show it. */
export interface OrderView {
  readonly requestId: string;
  readonly orderId: string | null;
  readonly status: OrderStatus;
  readonly totalCents: number;
  readonly history: readonly { readonly status: OrderStatus; readonly at: number }[];
  /** Only on a REJECTED order: the order rules the request broke. */
  readonly errors?: readonly ValidationIssue[];
  /** Only on a FAILED order: why the order service could not process it (its dead letter's reason). */
  readonly reason?: string;
}

/** Options of {@link registerGatewayRoutes}. */
export interface GatewayRoutesOptions {
  readonly app: App<SqlTx>;
  /** Reads OrderStatusUpdated, DepositApplied and DepositFailed in this replica's own group. */
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
 * request until the order's OrderStatusUpdated arrives (201 with the final status, FAILED with its
 * `reason` too; a 422 problem `order-rejected` when the order service rejected it), or answers 202 with
 * `Location: /requests/{id}` past `waitMs`. The body must follow the order rules (orderRules.ts),
 * the order service's own: a request breaking one is refused with 422 `schema-violation` before it
 * becomes an event. Deduplicated by `Idempotency-Key`, scoped to the caller: the same key again
 * gets the same answer, from the state when it is already known. The billing routes are in
 * gatewayBilling.ts.
 */
export function registerGatewayRoutes(gateway: Gateway<SqlTx>, options: GatewayRoutesOptions): void {
  const { app, waiter } = options;
  const roles = [options.role];
  const read = <T>(work: (tx: SqlTx) => Promise<T>) => app.read(work);

  gateway.command({
    method: 'POST',
    url: '/orders',
    roles,
    body: OrderRequestBody,
    status: 202,
    // the body's schema is the order rules' shape; the rest of them (the total's limit) here, so
    // the gateway refuses whatever the order service would reject, before it becomes an event
    prepare: async ({ body, principal }) => {
      const issues = orderRequestIssues({ username: principal!.username, ...body });
      if (issues.length > 0) throw new HeraldError(CoreErrors.schemaViolation, `the order breaks the order rules: ${summary(issues)}`, { details: { issues } });
    },
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
      answer: (event) => {
        const order = event.data as Static<typeof OrderStatusUpdated.schema>;
        return orderAnswer({ ...order, errors: rejectionErrors(order.metadata), reason: failureError(order.metadata) });
      },
      lookup: async (result) => {
        const [row] = await read((tx) => tx.query<RequestRow>(`${REQUEST_SELECT} WHERE r.request_id = $1`, [result.requestId]));
        return row && row.status !== 'PENDING' ? orderAnswer({ ...viewOf(row), orderId: row.order_id! }) : undefined;
      },
      location: (result) => `/requests/${result.requestId}`,
      pending: (result) => ({ requestId: result.requestId, status: 'PENDING' }),
    },
  });

  const view = async (column: 'request_id' | 'order_id', id: string, username: string, missing: string): Promise<OrderView> => {
    const found = await read(async (tx) => {
      // an order id the gateway's row may not have yet (see REQUEST_SELECT): each looked up by its index
      const where =
        column === 'request_id'
          ? 'r.request_id = $1'
          : 'r.request_id = COALESCE((SELECT request_id FROM gateway_order_requests WHERE order_id = $1), (SELECT request_id FROM orders WHERE order_id = $1))';
      const [row] = await tx.query<RequestRow>(`${REQUEST_SELECT} WHERE ${where} AND r.username = $2`, [id, username]);
      if (!row) return undefined;
      const history = await tx.query<{ status: OrderStatus; at: number }>('SELECT status, at FROM gateway_order_history WHERE request_id = $1 ORDER BY at, status', [row.request_id]);
      return { row, history };
    });
    if (!found) throw new HeraldError(missing, `no ${column === 'order_id' ? 'order' : 'request'} ${id}`);
    const { row, history } = found;
    const seen = history.map((h) => ({ status: h.status, at: Number(h.at) }));
    // the gateway's history lags the order service's final status (see REQUEST_SELECT)
    if (!seen.some((h) => h.status === row.status)) seen.push({ status: row.status, at: Number(row.order_at) });
    return { ...viewOf(row), history: seen };
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
 * status"): each final OrderStatusUpdated moves its request out of PENDING, a REJECTED one
 * keeps the rules its request broke and a FAILED one its reason, in the gateway's consumer group
 * (one replica handles each event; all replicas read the result).
 */
export function registerGatewayProjection(app: App<SqlTx>): void {
  app.on(OrderStatusUpdated, { group: GROUPS.gateway }, async (event, ctx) => {
    const { requestId, orderId, status, updatedAt } = event.data;
    await ctx.tx.execute("UPDATE gateway_order_requests SET status = $1, order_id = $2 WHERE request_id = $3 AND status = 'PENDING'", [status, orderId, requestId]);
    await ctx.tx.execute('INSERT INTO gateway_order_history (request_id, status, at) VALUES ($1, $2, $3) ON CONFLICT (request_id, status) DO NOTHING', [requestId, status, updatedAt]);
    if (status === 'REJECTED') {
      const errors = JSON.stringify(rejectionErrors(event.data.metadata));
      await ctx.tx.execute('INSERT INTO gateway_order_rejections (request_id, errors) VALUES ($1, $2) ON CONFLICT (request_id) DO NOTHING', [requestId, errors]);
    }
    if (status === 'FAILED') {
      await ctx.tx.execute('INSERT INTO gateway_order_failures (request_id, reason) VALUES ($1, $2) ON CONFLICT (request_id) DO NOTHING', [requestId, failureError(event.data.metadata)]);
    }
  });
}

interface RequestRow {
  request_id: string;
  username: string;
  order_id: string | null;
  status: OrderStatus;
  total_cents: number;
  /** JSON of the broken rules, on a REJECTED order. */
  errors: string | null;
  /** The dead letter's reason, on a FAILED order. */
  failure: string | null;
  /** When the order service last moved the order (its final status's time while the gateway's row lags). */
  order_at: number | string | null;
}

/**
 * A request with its rejection or failure, if any (`gateway_order_requests r`, then a WHERE on `r`
 * or the order `o`). While the gateway's own row is PENDING, the order service's final status (its
 * `orders` row, with its rejection or failure) is the answer: it commits with the OrderStatusUpdated
 * it publishes, so the read model lags it (a replay of a held 201 may come before the gateway's
 * group handled the event), and never catches up when that event is a dead letter of the gateway's
 * group. With the seed's event as the only source, the client would poll PENDING for an order
 * that has ended (and a replay would answer 202 after a 201).
 */
const REQUEST_SELECT = `SELECT r.request_id, r.username, COALESCE(r.order_id, o.order_id) AS order_id,
    CASE WHEN r.status = 'PENDING' AND o.status <> 'PENDING_VALIDATION' THEN o.status ELSE r.status END AS status,
    r.total_cents, COALESCE(j.errors, oj.errors) AS errors, COALESCE(f.reason, ofl.reason) AS failure, o.updated_at AS order_at
  FROM gateway_order_requests r LEFT JOIN gateway_order_rejections j ON j.request_id = r.request_id
  LEFT JOIN gateway_order_failures f ON f.request_id = r.request_id
  LEFT JOIN orders o ON o.request_id = r.request_id
  LEFT JOIN order_rejections oj ON oj.order_id = o.order_id
  LEFT JOIN order_failures ofl ON ofl.order_id = o.order_id`;

function viewOf(row: RequestRow): Omit<OrderView, 'history'> {
  const view = { requestId: row.request_id, orderId: row.order_id, status: row.status, totalCents: row.total_cents };
  if (row.status === 'FAILED') return { ...view, reason: row.failure ?? 'unknown' };
  return row.status === 'REJECTED' ? { ...view, errors: JSON.parse(row.errors ?? '[]') as ValidationIssue[] } : view;
}

/**
 * The answer to POST /orders once the order is final: 201 with its status (a FAILED one with its
 * `reason`: the system, not the request, failed, as for PAYMENT_TIMEOUT), or for a REJECTED order
 * a 422 problem `order-rejected` listing the broken rules in `errors`, with the request and order
 * ids to look it up by (`instance` is the request's URL).
 */
function orderAnswer(order: { requestId: string; orderId: string; status: OrderStatus; totalCents: number; errors?: readonly ValidationIssue[] | undefined; reason?: string | undefined }): RouteResponse {
  const { requestId, orderId, status, totalCents } = order;
  if (status === 'FAILED') return { status: 201, body: { orderId, requestId, status, totalCents, reason: order.reason ?? 'unknown' } };
  if (status !== 'REJECTED') return { status: 201, body: { orderId, requestId, status, totalCents } };
  const issues = order.errors ?? [];
  const rejected = new HeraldError(GATEWAY_ERRORS.orderRejected, `order ${orderId} was rejected: ${summary(issues)}`, { details: { issues } });
  const problem = toProblem(rejected, `/requests/${requestId}`, { errorKinds: GATEWAY_ERROR_KINDS });
  return { status: problem.status, body: { ...problem, requestId, orderId }, headers: { 'content-type': PROBLEM_CONTENT_TYPE } };
}

/** The first three issues, for a message. */
function summary(issues: readonly ValidationIssue[]): string {
  return issues.slice(0, 3).map((i) => `${i.path || '/'}: ${i.message}`).join('; ') || 'no reason given';
}
