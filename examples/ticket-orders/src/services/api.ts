import { HeraldError, uuidv7 } from '@herald/core';
import type { App, SqlTx } from '@herald/core';
import { createGateway, type Gateway, type GatewayMetrics, type RequestTracer } from '@herald/http';
import { Type } from '@sinclair/typebox';
import { OrderCreated } from '../events.js';
import { findOrder } from '../schema.js';
import { buildWorkflow } from '../workflow.js';

/** A seat: its row (1-999, no leading zero) and its letter (A-K), upper case: `12C`. */
export const SEAT_PATTERN = '^[1-9][0-9]{0,2}[A-K]$';
/**
 * A flight: the airline's two-character code (letters or digits) and its number, 1 to 9999 without
 * leading zeros, upper case, no separator: `SU100`. `SU0100` is the same flight (numbers are padded
 * to four digits in places), which the live-seat index would take for another, so it is refused.
 */
export const FLIGHT_ID_PATTERN = '^[A-Z0-9]{2}[1-9][0-9]{0,3}$';
/** Has a character other than white space: a blank customer id names no one. */
const NOT_BLANK_PATTERN = '\\S';

/**
 * The body of POST /orders. Unknown fields are refused (422), and so is a blank `customerId`. The
 * seat and the flight are refused (422) unless written in their one canonical form: the live-seat
 * unique index compares raw text, so `12c`, ` 12C`, `12C\u0000` or a full-width `１２C` would each
 * be another seat, sold again.
 */
export const CreateOrderBody = Type.Object(
  {
    customerId: Type.String({ minLength: 1, maxLength: 200, pattern: NOT_BLANK_PATTERN }),
    flightId: Type.String({ pattern: FLIGHT_ID_PATTERN }),
    seat: Type.String({ pattern: SEAT_PATTERN }),
    priceCents: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
  },
  { additionalProperties: false },
);

// any id is looked up: one that is no order's, whatever its shape, is 404 order-not-found (a path
// parameter too long for the gateway is its 414 uri-too-long)
const OrderParams = Type.Object({ id: Type.String() });

/** Domain error codes of the API and the problem kind each one is. */
export const API_ERRORS = { seatHeld: 'seat-held', orderNotFound: 'order-not-found' } as const;

/** Options of {@link createApi}. */
export interface ApiOptions {
  readonly shutdownDeadlineMs: number;
  readonly readinessGraceMs: number;
  readonly idempotencyLeaseMs: number;
  /** Runs after the HTTP server drained (closes the app). */
  readonly onClosed: () => Promise<void>;
  /** Served at GET /metrics, and told about every request. */
  readonly metrics: GatewayMetrics;
  /** Traces requests (`@herald/tracing`'s `tracing.http`); none by default. */
  readonly tracing?: RequestTracer;
}

/**
 * The api service: POST /orders writes the order and its OrderCreated event (outbox) in one
 * transaction with the Idempotency-Key record; GET /orders/{id}; GET /orders/{id}/workflow;
 * /livez, /readyz and /metrics. A seat held by a live order answers 409 `seat-held`; the database's
 * unique index decides, so two concurrent requests for one seat cannot both win.
 */
export function createApi(app: App<SqlTx>, options: ApiOptions): Gateway<SqlTx> {
  const gateway = createGateway<SqlTx>({
    app,
    problems: { errorKinds: { [API_ERRORS.seatHeld]: 'conflict', [API_ERRORS.orderNotFound]: 'not-found' } },
    idempotency: { leaseMs: options.idempotencyLeaseMs },
    shutdown: { deadlineMs: options.shutdownDeadlineMs, readinessGraceMs: options.readinessGraceMs, onClosed: options.onClosed },
    metrics: options.metrics,
    ...(options.tracing ? { tracing: options.tracing } : {}),
  });

  gateway.command({
    method: 'POST',
    url: '/orders',
    body: CreateOrderBody,
    status: 201,
    handle: async ({ body, tx, publish }) => {
      const orderId = uuidv7();
      const now = app.clock.now();
      const inserted = await tx.execute(
        `INSERT INTO orders (order_id, customer_id, flight_id, seat, price_cents, status, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, 'CREATED', $6, $6)
         ON CONFLICT DO NOTHING`,
        [orderId, body.customerId, body.flightId, body.seat, body.priceCents, now],
      );
      if (inserted === 0) {
        throw new HeraldError(API_ERRORS.seatHeld, `seat ${body.seat} on flight ${body.flightId} is held by another order`);
      }
      // the saga's correlation id is its order id (the workflow view finds its events by it); the
      // request's X-Correlation-Id names the request in the logs and comes back in the response
      await publish(OrderCreated, { orderId, ...body }, { correlationId: orderId });
      return { orderId, status: 'CREATED' as const };
    },
    headers: (result) => ({ location: `/orders/${result.orderId}` }),
  });

  const loadOrder = async (orderId: string) => {
    const order = await app.stores.transaction((tx) => findOrder(tx, orderId));
    if (!order) throw new HeraldError(API_ERRORS.orderNotFound, `order ${orderId} does not exist`);
    return order;
  };

  gateway.query({ url: '/orders/:id', params: OrderParams, handle: ({ params }) => loadOrder(params.id) });
  gateway.query({
    url: '/orders/:id/workflow',
    params: OrderParams,
    handle: async ({ params }) => buildWorkflow(app.stores, await loadOrder(params.id)),
  });
  return gateway;
}
