import type { ValidationIssue } from '@herald/core';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

// What makes an order request acceptable, defined once: the gateway refuses a request that breaks
// a rule before it becomes an event (fast feedback, 422), and the order service checks every
// OrderCreationRequested against the same rules (seed 004, step 5: "validates the input data"),
// because an event may come from elsewhere: another producer, an older release, a redriven dead
// letter. The event schemas (events.ts) stay lenient so that old events stay readable; these
// rules are what an order must satisfy today.

/** How an order can be paid: from the billing balance, the only method billing has. */
export const PAYMENT_METHODS = ['balance'] as const;

/**
 * The limits of one order. An item's limits alone would allow a total of 10^13 cents; an order is
 * held to 10^10 (100 000 000.00).
 */
export const ORDER_LIMITS = {
  maxItems: 100,
  maxSkuLength: 100,
  maxQuantity: 1_000,
  maxPriceCents: 100_000_000,
  maxAddressLength: 500,
  maxTotalCents: 100_000_000_00,
} as const;

/** Has a character other than white space: a blank value names nothing. */
const NOT_BLANK = '\\S';

/** One item as a client may order it: exactly these three fields (anything else would be stored with the order). */
export const OrderRequestItem = Type.Object(
  {
    sku: Type.String({ minLength: 1, maxLength: ORDER_LIMITS.maxSkuLength, pattern: NOT_BLANK }),
    quantity: Type.Integer({ minimum: 1, maximum: ORDER_LIMITS.maxQuantity }),
    priceCents: Type.Integer({ minimum: 1, maximum: ORDER_LIMITS.maxPriceCents }),
  },
  { additionalProperties: false },
);

/** What a client may ask for: the body of `POST /orders`, and the order part of every OrderCreationRequested. */
export const OrderRequestBody = Type.Object(
  {
    items: Type.Array(OrderRequestItem, { minItems: 1, maxItems: ORDER_LIMITS.maxItems }),
    deliveryAddress: Type.String({ minLength: 1, maxLength: ORDER_LIMITS.maxAddressLength, pattern: NOT_BLANK }),
    paymentMethod: Type.Union(PAYMENT_METHODS.map((method) => Type.Literal(method))),
  },
  { additionalProperties: false },
);

/** An order request that follows {@link OrderRequestBody}. */
export type OrderRequestData = Static<typeof OrderRequestBody>;

/** An order request as an event carries it: any strings, whose owner is `username`. */
export interface OrderRequestInput {
  readonly username: string;
  readonly items: readonly { readonly sku: string; readonly quantity: number; readonly priceCents: number }[];
  readonly deliveryAddress: string;
  readonly paymentMethod: string;
}

/** What an order of these items costs, in cents. */
export function orderTotal(items: readonly { readonly quantity: number; readonly priceCents: number }[]): number {
  return items.reduce((sum, item) => sum + item.quantity * item.priceCents, 0);
}

/** At most this many broken rules are listed (as the gateway lists a body's). */
const MAX_ISSUES = 20;

/**
 * Every rule `request` breaks, the first about each field (JSON pointer and message, as the
 * gateway's 422 lists them); none when the order may be created. Besides {@link OrderRequestBody}:
 * the order has an owner, and its total is within {@link ORDER_LIMITS}. Only the items' known
 * fields are checked: the order keeps no other (earlier gateways let extra fields through, and
 * such requests stay acceptable). Pure: the same request always gets the same answer.
 */
export function orderRequestIssues(request: OrderRequestInput): ValidationIssue[] {
  const order = {
    items: request.items.map(({ sku, quantity, priceCents }) => ({ sku, quantity, priceCents })),
    deliveryAddress: request.deliveryAddress,
    paymentMethod: request.paymentMethod,
  };
  const issues: ValidationIssue[] = [];
  const seen = new Set<string>();
  for (const error of Value.Errors(OrderRequestBody, order)) {
    if (seen.has(error.path)) continue;
    seen.add(error.path);
    issues.push({ path: error.path, message: error.message });
  }
  if (!new RegExp(NOT_BLANK).test(request.username)) issues.push({ path: '/username', message: 'the order has no owner' });
  const total = orderTotal(order.items);
  if (total > ORDER_LIMITS.maxTotalCents) issues.push({ path: '/items', message: `the total of ${total} cents exceeds the limit of ${ORDER_LIMITS.maxTotalCents}` });
  return issues.slice(0, MAX_ISSUES);
}
