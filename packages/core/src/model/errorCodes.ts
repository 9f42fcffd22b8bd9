import { defineErrorCodes, HeraldError } from './errors.js';

/**
 * The error codes of `@herald/core`. A dead letter's `reason` is one of these (or an adapter's, or
 * your own `HeraldError`'s code), so the console and the CLI group failures by them.
 */
export const { specs: CoreErrors, codes: ErrorCodes } = defineErrorCodes({
  schemaViolation: {
    code: 'schema-violation',
    retriable: false,
    meaning: "An event's data does not match its definition's schema (at publish: refused; at consume: dead-lettered).",
    action: 'Fix the producer, or publish a new version of the event type; redrive the dead letters once a handler accepts them.',
  },
  unknownEventType: {
    code: 'unknown-event-type',
    retriable: false,
    meaning: "A consumed event has a type this app does not define, or a version its handler's definition does not read (a newer one, or one below its upcasts).",
    action: 'Add the definition (events: [...] in createApp), or give the handler the newer version (its upcast reads the earlier ones) and deploy it; then redrive.',
  },
  upcastFailed: {
    code: 'upcast-failed',
    retriable: false,
    meaning: "An event of an earlier version could not be read as its handler's version: the definition's upcast threw, or returned data the newer schema refuses.",
    action: "Fix the upcast (the definition's upcast.data) and deploy, then redrive the dead letters.",
  },
  malformedEnvelope: {
    code: 'malformed-envelope',
    retriable: false,
    meaning: 'A record on a topic is not a Herald envelope: bad JSON, a missing or ill-formed field, or an id, type, key or correlation field holding U+0000 or a lone surrogate (text no store keeps as it is).',
    action: 'Find who wrote to the topic outside Herald; discard the dead letters once understood.',
  },
  eventTooLarge: {
    code: 'event-too-large',
    retriable: false,
    meaning:
      "A serialised event exceeds maxEventBytes (default 1 MiB) and was refused at publish; or the broker refused a record as too large or invalid when the relay sent it (it then waits in the outbox with the later events of its key, retried with backoff and logged at every attempt).",
    action: "Publish a reference to the payload instead, or raise maxEventBytes (and the broker's limit: a relayed record then goes out at its next attempt).",
  },
  timeout: {
    code: 'timeout',
    retriable: true,
    meaning: 'An attempt or a transaction did not finish within its deadline and was aborted (rolled back).',
    action: 'Retried automatically; if it keeps happening, make the handler honour ctx.signal or raise timeoutMs.',
  },
  handlerFailed: {
    code: 'handler-failed',
    retriable: true,
    meaning: 'A handler threw an error that carries no code of its own.',
    action: 'Read the dead letter\'s error and stack; fix the handler, then redrive.',
  },
  parkedBehindKey: {
    code: 'parked-behind-key',
    retriable: false,
    meaning: 'Dead-letter policy park-key: the event was held back, unprocessed, behind an earlier dead letter of its key.',
    action: 'Redrive the key once the first dead letter is fixed; the parked events follow in order.',
  },
  closed: {
    code: 'closed',
    retriable: false,
    meaning: 'The component was closed (or is closing) and refused the call; a delivery abandoned while closing is redelivered.',
    action: 'Do not use a component after close(); nothing to do for abandoned deliveries.',
  },
  valueRejected: {
    code: 'value-rejected',
    retriable: false,
    meaning:
      "The store refused a value as data: text holding a NUL character, a string longer than its column, a number outside its column's type, text that is no value of its type (PostgreSQL's data exceptions, SQLSTATE class 22). Over HTTP a 422.",
    action: 'Validate the input where it enters (a schema pattern or bound names the field to the client); an event dead-lettered with it needs its data or the handler fixed, then a redrive.',
  },
  invalidOptions: {
    code: 'invalid-options',
    retriable: false,
    meaning: 'A component was given options or arguments it cannot work with; the message names the option.',
    action: 'Fix the configuration or the call.',
  },
  brokerUnavailable: {
    code: 'broker-unavailable',
    retriable: true,
    meaning: 'The broker could not be reached or did not confirm a write or read in time.',
    action: 'Retried automatically; check the broker and the network if it persists.',
  },
  groupActive: {
    code: 'group-active',
    retriable: false,
    meaning: 'An offset reset (replay) was asked for a consumer group that still has live members.',
    action: 'Stop every member of the group, then reset.',
  },
  offsetOutOfRange: {
    code: 'offset-out-of-range',
    retriable: false,
    meaning: "Retention deleted records a consumer group had not read yet: the group's position fell below the partition's first retained offset, so those records were skipped (the message names the group, the partition and the offsets).",
    action: "The skipped records are gone from the log: find them at their source if they matter. Keep groups within retention (watch lag). With onOffsetOutOfRange: 'stop' the group stops instead of skipping; resume it with `herald replay <group> --to earliest`.",
  },
  chaos: {
    code: 'chaos',
    retriable: true,
    meaning: 'A failure injected on purpose by the relay\'s chaos option.',
    action: 'None: it tests that the pipeline absorbs failures. Set the chaos rates to 0 to stop it.',
  },
  timersUnavailable: {
    code: 'timers-unavailable',
    retriable: false,
    meaning: "publish.schedule or publish.cancelTimer was called, but the app's stores have no timer store (the hasTimers ability).",
    action: 'Run on stores with timers (the memory, SQLite and PostgreSQL stores all have them), or publish the event now instead.',
  },
  idempotencyLeaseLost: {
    code: 'idempotency-lease-lost',
    retriable: true,
    meaning: "An attempt at an idempotent request tried to complete its key after losing it: its lease ran out and a retry took the key over (or the key was completed, abandoned or expired meanwhile). Its transaction is rolled back, so the request's effects commit once.",
    action: 'None for HTTP clients: the gateway answers with the response of the attempt that took over (or 409 while it runs). If it is frequent, raise idempotency.leaseMs above the longest request.',
  },
  transactionFinished: {
    code: 'transaction-finished',
    retriable: false,
    meaning: 'A transaction handle (ctx.tx, ctx.publish) was used after its transaction had committed or rolled back.',
    action: 'Await every statement inside the work function; do not keep tx for later.',
  },
  readOnlyTransaction: {
    code: 'read-only-transaction',
    retriable: false,
    meaning: 'A read-only transaction (App.read, stores.read) tried to write: a statement that changes data or schema, or a store operation (an outbox append, an inbox mark) with its tx. Nothing was written.',
    action: 'Do the write in app.transaction; keep app.read for work that only reads.',
  },
});

/** One problem found by schema validation: where (JSON pointer) and what. */
export interface ValidationIssue {
  readonly path: string;
  readonly message: string;
}

/** The data of an event does not match its schema. Never retriable. */
export class ValidationError extends HeraldError {
  readonly issues: readonly ValidationIssue[];
  constructor(eventType: string, issues: readonly ValidationIssue[]) {
    const first = issues.slice(0, 3).map((i) => `${i.path || '/'} ${i.message}`).join('; ');
    super(CoreErrors.schemaViolation, `${eventType} does not match its schema: ${first}`, { details: { issues } });
    this.name = 'ValidationError';
    this.issues = issues;
  }
}

/** Turns anything thrown into an Error, keeping the original as `cause`. */
export function toError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  return new HeraldError(CoreErrors.handlerFailed, `non-error thrown: ${safeString(thrown)}`, { cause: thrown });
}

function safeString(value: unknown): string {
  try {
    return typeof value === 'string' ? value : JSON.stringify(value);
  } catch {
    return String(value);
  }
}
