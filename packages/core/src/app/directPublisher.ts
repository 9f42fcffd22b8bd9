import type { Static, TSchema } from '@sinclair/typebox';
import type { Envelope } from '../model/envelope.js';
import { CoreErrors } from '../model/errorCodes.js';
import { HeraldError } from '../model/errors.js';
import { assertEventDefinition, type EventDefinition } from '../model/events.js';
import type { Broker, OutgoingRecord } from '../ports/broker.js';
import type { Clock } from '../ports/clock.js';
import type { Instrumentation } from '../ports/instrumentation.js';
import type { Publish, PublishManyOptions, PublishOptions } from '../pipeline/handler.js';
import { buildEnvelope, publishedValue, reportPublished } from '../pipeline/publisher.js';

export interface DirectPublisherDeps {
  readonly broker: Broker;
  readonly clock: Clock;
  readonly instrumentation: Instrumentation;
  readonly maxEventBytes: number;
  /** Aborted once the app closes: publishing then fails with `closed`. */
  readonly closed: AbortSignal;
}

/**
 * A `publish` that appends straight to the log, without a transaction or an outbox: the same
 * envelope, validation and size limit as the outbox path, the same record the relay would send
 * (the envelope as value, its key and headers, the publish time as timestamp), resolved once the
 * broker acknowledged the append as durable. `published` facts are emitted after that.
 */
export function createDirectPublisher(deps: DirectPublisherDeps): Publish {
  async function append<S extends TSchema>(envelopes: Envelope<Static<S>>[]): Promise<Envelope<Static<S>>[]> {
    if (deps.closed.aborted) throw new HeraldError(CoreErrors.closed, 'publishDirect: the app is closed');
    if (envelopes.length === 0) return envelopes;
    const timestamp = deps.clock.now();
    const records: OutgoingRecord[] = envelopes.map((envelope) => ({
      topic: envelope.topic,
      key: envelope.key,
      value: publishedValue(envelope, deps.maxEventBytes),
      headers: envelope.headers,
      timestamp,
    }));
    await deps.broker.publish(records);
    reportPublished(deps.instrumentation, envelopes);
    return envelopes;
  }

  const publishDirect = (async <S extends TSchema>(definition: EventDefinition<S>, data: Static<S>, options: PublishOptions = {}) => {
    assertEventDefinition(definition, 'publishDirect: definition');
    const [envelope] = await append([buildEnvelope(deps.clock, definition, data, options, options.cause)]);
    return envelope!;
  }) as Publish;
  publishDirect.many = async <S extends TSchema>(definition: EventDefinition<S>, items: readonly Static<S>[], options: PublishManyOptions = {}) => {
    assertEventDefinition(definition, 'publishDirect.many: definition');
    if (!Array.isArray(items)) throw new HeraldError(CoreErrors.invalidOptions, 'publishDirect.many: items must be an array');
    // one id for every item would have consumers' inboxes keep the first and drop the rest as duplicates
    if ((options as { id?: unknown }).id !== undefined) throw new HeraldError(CoreErrors.invalidOptions, 'publishDirect.many: id cannot be given for several events');
    return append(items.map((data) => buildEnvelope(deps.clock, definition, data, options, options.cause)));
  };
  // a timer is a row written in a transaction; a direct publish has none to write it in
  const noTimers = (what: string) => () =>
    Promise.reject(new HeraldError(CoreErrors.invalidOptions, `publishDirect.${what}: timers are written in a transaction; use ctx.publish or app.transaction's publish`));
  publishDirect.schedule = noTimers('schedule');
  publishDirect.cancelTimer = noTimers('cancelTimer');
  return publishDirect;
}
