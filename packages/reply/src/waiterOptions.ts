import { assertEventDefinition, describeGiven, uuidv7, type EventDefinition } from '@herald/core';
import { checkOptions, invalid } from './checks.js';
import { checkTimeoutMs } from './timeouts.js';
import type { EventWaiterOptions, ExpectOptions } from './waiter.js';

/** Every option `createEventWaiter` reads: a record of `EventWaiterOptions`' keys, so a new option cannot be left out. */
const WAITER_OPTION_KEYS = Object.keys({ app: true, events: true, instanceId: true } satisfies Readonly<Record<keyof EventWaiterOptions, true>>);
const EXPECT_OPTION_KEYS = Object.keys({ timeoutMs: true, until: true } satisfies Readonly<Record<keyof ExpectOptions, true>>);

const INSTANCE_ID = /^[A-Za-z0-9._-]{1,100}$/;

export interface WaiterSettings {
  readonly instanceId: string;
  /** The event definitions by type. */
  readonly byType: ReadonlyMap<string, EventDefinition>;
}

/** Checks `createEventWaiter`'s options and fills in the defaults; throws `invalid-options` naming the first bad one. */
export function waiterSettings(options: EventWaiterOptions): WaiterSettings {
  const where = 'createEventWaiter';
  checkOptions(where, options, WAITER_OPTION_KEYS, '{ app, events: [OrderStatusUpdated] }');
  const { app, events } = options as Partial<EventWaiterOptions>;
  if (typeof app?.broker?.subscribe !== 'function' || typeof app.instrumentation?.emit !== 'function' || !app.clock || !app.logger) {
    throw invalid(`${where}: app: expected a Herald app (createApp), got ${describeGiven(app)}`);
  }
  if (!Array.isArray(events) || events.length === 0) throw invalid(`${where}: events: expected an array of at least one event definition (defineEvent), got ${describeGiven(events)}`);
  const byType = new Map<string, EventDefinition>();
  events.forEach((definition: unknown, i) => {
    assertEventDefinition(definition, `${where}: events[${i}]`);
    const other = byType.get(definition.type);
    if (other && other !== definition) {
      throw invalid(`${where}: events lists ${definition.type} twice (versions ${other.version} and ${definition.version}); list the version to read: it reads earlier ones through its upcast`);
    }
    byType.set(definition.type, definition);
  });
  const instanceId: unknown = options.instanceId ?? `waiter-${uuidv7()}`;
  if (typeof instanceId !== 'string' || !INSTANCE_ID.test(instanceId)) {
    throw invalid(`${where}: instanceId: expected 1 to 100 letters, digits, '.', '_' or '-', got ${describeGiven(instanceId)}`);
  }
  return { instanceId, byType };
}

/** Checks one `expect()`'s arguments; throws `invalid-options` naming the first bad one. */
export function checkExpect(correlationId: unknown, options: unknown): asserts options is ExpectOptions {
  const where = 'waiter.expect';
  if (typeof correlationId !== 'string' || correlationId.length === 0) throw invalid(`${where}: correlationId: expected a non-empty string, got ${describeGiven(correlationId)}`);
  checkOptions(`${where}: options`, options, EXPECT_OPTION_KEYS, '{ timeoutMs: 5_000 }');
  checkTimeoutMs(options.timeoutMs, { name: 'timeoutMs', owner: `${where}: options`, integer: false });
  if (options.until !== undefined && typeof options.until !== 'function') throw invalid(`${where}: options.until: expected a function (event) => boolean, got ${describeGiven(options.until)}`);
}
