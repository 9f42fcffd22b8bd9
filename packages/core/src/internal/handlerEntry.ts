import type { Clock } from '../clock.js';
import type { Envelope } from '../envelope.js';
import type { EventDefinition } from '../events.js';
import { compose, type Handler, type Middleware } from '../handler.js';
import type { Instrumentation } from '../instrumentation.js';
import { correlation } from '../middleware/correlation.js';
import { deadLetter } from '../middleware/deadLetter.js';
import { inbox } from '../middleware/inbox.js';
import { instrument } from '../middleware/instrument.js';
import { recover } from '../middleware/recover.js';
import { retry, RETRY_DEFAULTS, type RetryOptions } from '../middleware/retry.js';
import { timeout } from '../middleware/timeout.js';
import type { DeadLetterPolicy, Stores, TransactionRunner } from '../store.js';

/** A registered handler with its resolved policies and its two composed pipelines. */
export interface HandlerEntry<Tx> {
  readonly name: string;
  readonly group: string;
  readonly definitions: readonly EventDefinition[];
  readonly policy: DeadLetterPolicy;
  /** For deliveries: every policy. */
  readonly pipeline: Handler<Envelope, Tx>;
  /** For redrives: one attempt, no dead-lettering (the redrive reports failures itself). */
  readonly redrivePipeline: Handler<Envelope, Tx>;
}

export interface PipelineDeps<Tx> {
  readonly stores: Stores<Tx>;
  readonly clock: Clock;
  readonly instrumentation: Instrumentation;
  readonly maxEventBytes: number;
}

export interface ResolvedPolicy<Tx> {
  readonly retry: RetryOptions;
  readonly timeoutMs: number;
  readonly deadLetter: DeadLetterPolicy;
  readonly middleware: readonly Middleware<Tx>[];
}

/**
 * Builds a handler's pipeline in Herald's default order, first listed outermost:
 * correlation → instrument → deadLetter → retry → timeout → recover → (your middleware) → inbox → handler.
 * So: every line is logged with the event's ids; each delivery is measured once; the dead-letter
 * policy sees only final failures; each retry gets a fresh deadline and a fresh transaction; and
 * the inbox mark, the handler's writes and its outgoing events commit together.
 */
export function buildPipelines<Tx>(
  deps: PipelineDeps<Tx>,
  policy: ResolvedPolicy<Tx>,
  handler: Handler<Envelope, Tx>,
  transactions: TransactionRunner<Tx> = deps.stores,
) {
  const { stores, clock, instrumentation } = deps;
  const innerWith = (runner: TransactionRunner<Tx>): Middleware<Tx>[] => [
    timeout({ timeoutMs: policy.timeoutMs, clock }) as Middleware<Tx>,
    recover() as Middleware<Tx>,
    ...policy.middleware,
    inbox<Tx>({ stores, clock, instrumentation, maxEventBytes: deps.maxEventBytes, transactions: runner }),
  ];
  const pipeline = compose<Tx>(
    correlation() as Middleware<Tx>,
    instrument({ instrumentation, clock }) as Middleware<Tx>,
    deadLetter({ store: stores.deadLetters, policy: policy.deadLetter, clock, instrumentation }) as Middleware<Tx>,
    retry({ ...RETRY_DEFAULTS, ...policy.retry, clock, instrumentation }) as Middleware<Tx>,
    ...innerWith(transactions),
  )(handler);
  // redrives run one at a time: no batching
  const redrivePipeline = compose<Tx>(correlation() as Middleware<Tx>, instrument({ instrumentation, clock }) as Middleware<Tx>, ...innerWith(stores))(handler);
  return { pipeline, redrivePipeline };
}
