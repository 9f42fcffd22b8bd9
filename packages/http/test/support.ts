import { connect } from 'node:net';
import { createApp, defineEvent, HeraldError, silentLogger } from '@herald/core';
import type { App, Clock, Logger } from '@herald/core';
import { memoryBroker, memoryStores } from '@herald/testing';
import type { MemoryStores, MemoryTx } from '@herald/testing';
import { Type } from '@sinclair/typebox';
import { createGateway, type Gateway, type GatewayOptions } from '../src/index.js';

export const OrderPlaced = defineEvent({
  type: 'OrderPlaced',
  topic: 'orders',
  key: (d) => d.orderId,
  schema: Type.Object({ orderId: Type.String(), item: Type.String() }),
});

export const PlaceOrder = Type.Object(
  {
    item: Type.String({ minLength: 1 }),
    quantity: Type.Integer({ minimum: 1 }),
  },
  { additionalProperties: false },
);

/** A gate a handler waits on, so a test can hold a request in flight. */
export interface Gate {
  readonly wait: Promise<void>;
  open(): void;
}

export function gate(): Gate {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { wait, open };
}

export interface Fixture {
  readonly app: App<MemoryTx>;
  readonly stores: MemoryStores;
  readonly gateway: Gateway<MemoryTx>;
  /** How many times the POST /orders handler ran its work (committed or not). */
  readonly runs: { count: number };
  /** Set to hold the next POST /orders handler until opened. */
  hold: Gate | undefined;
  /** Set to make the next POST /orders handler throw after writing. */
  failNext: Error | undefined;
}

/**
 * A Herald app on the in-memory engine behind a gateway with POST /orders (idempotent, writes a
 * row and publishes OrderPlaced), GET /orders/:id and a few routes that fail on purpose.
 */
export function fixture(options: Partial<GatewayOptions<MemoryTx>> & { clock?: Clock } = {}): Fixture {
  const stores = memoryStores(options.clock ? { clock: options.clock } : {});
  const app = createApp<MemoryTx>({ broker: memoryBroker(), stores, logger: silentLogger, ...(options.clock ? { clock: options.clock } : {}) });
  const gateway = createGateway<MemoryTx>({ ...options, app, problems: { errorKinds: { 'out-of-stock': 'conflict' } } });
  const f: Fixture = { app, stores, gateway, runs: { count: 0 }, hold: undefined, failNext: undefined };
  let next = 1;
  gateway.command({
    method: 'POST',
    url: '/orders',
    body: PlaceOrder,
    status: 201,
    handle: async ({ body, tx, publish }) => {
      f.runs.count++;
      const orderId = `o-${next++}`;
      if (body.item === 'unobtainium') throw new HeraldError('out-of-stock', `${body.item} is out of stock`);
      tx.set(`orders/${orderId}`, { orderId, ...body });
      await publish(OrderPlaced, { orderId, item: body.item }, { correlationId: orderId });
      const held = f.hold;
      if (held) await held.wait;
      const failure = f.failNext;
      f.failNext = undefined;
      if (failure) throw failure;
      return { orderId, status: 'CREATED' };
    },
    // after `handle`, so TypeScript infers the result type from it first
    headers: (result) => ({ location: `/orders/${result.orderId}` }),
  });
  gateway.query({
    url: '/orders/:id',
    params: Type.Object({ id: Type.String() }),
    handle: async ({ params }) => {
      const order = await app.stores.transaction(async (tx) => tx.get(`orders/${params.id}`));
      if (!order) throw new HeraldError('not-found', `order ${params.id} does not exist`);
      return order;
    },
  });
  gateway.query({
    url: '/boom',
    handle: async () => {
      throw new Error('secret internal detail');
    },
  });
  return f;
}

/** Committed order rows. */
export async function orderRows(stores: MemoryStores): Promise<string[]> {
  return stores.transaction(async (tx) => tx.keys('orders/'));
}

/** Outbox records of one correlation id. */
export async function outboxOf(stores: MemoryStores, correlationId: string): Promise<readonly { type: string }[]> {
  return stores.outbox.findByCorrelation(correlationId);
}

/** Sends `request` as raw bytes (header lines as written, repeats and all) and reads until the server closes the connection. */
export function rawRequest(url: string, request: Buffer | string): Promise<{ head: string; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) });
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const at = text.indexOf('\r\n\r\n');
      resolve({ head: text.slice(0, at), body: text.slice(at + 4) });
    });
    socket.write(request);
  });
}

/** A line a {@link captureLogger} kept. */
export interface Line {
  readonly level: string;
  readonly msg: string;
  readonly fields: Record<string, unknown>;
}

/** A Logger port that keeps every line with its child fields merged in. */
export function captureLogger(lines: Line[], base: Record<string, unknown> = {}): Logger {
  const log = (level: string) => (msg: string, fields?: Record<string, unknown>) => void lines.push({ level, msg, fields: { ...base, ...fields } });
  return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error'), child: (fields) => captureLogger(lines, { ...base, ...fields }) };
}
