import { CoreErrors, ErrorCodes } from '../model/errorCodes.js';
import { HeraldError } from '../model/errors.js';
import type { Broker } from '../ports/broker.js';

export interface ChaosOptions {
  /** Fraction (0..1) of publish calls that fail before reaching the broker (a dropped send). */
  readonly failRate?: number;
  /** Fraction (0..1) of publish calls that fail after the broker accepted them (a lost ack): the caller retries and duplicates are really produced. */
  readonly failAfterAcceptRate?: number;
  readonly random?: () => number;
}

/**
 * Wraps a broker so that some publishes fail on purpose, as seed 003's worker drops 20% of its
 * sends. Both failures are retriable `chaos` errors. Subscriptions pass through untouched.
 */
export function chaosBroker(broker: Broker, options: ChaosOptions): Broker {
  const failRate = rate(options.failRate, 'failRate');
  const afterRate = rate(options.failAfterAcceptRate, 'failAfterAcceptRate');
  const random = options.random ?? Math.random;
  return {
    async publish(records) {
      if (failRate > 0 && random() < failRate) {
        throw new HeraldError(CoreErrors.chaos, `chaos: dropped a publish of ${records.length} records`, { retriable: true, details: { stage: 'before-send' } });
      }
      await broker.publish(records);
      if (afterRate > 0 && random() < afterRate) {
        throw new HeraldError(CoreErrors.chaos, `chaos: lost the acknowledgement of ${records.length} accepted records`, { retriable: true, details: { stage: 'after-accept' } });
      }
    },
    subscribe: (subscribeOptions, sink) => broker.subscribe(subscribeOptions, sink),
    close: () => broker.close(),
  };
}

function rate(value: number | undefined, name: string): number {
  const r = value ?? 0;
  if (!(r >= 0 && r <= 1)) throw new HeraldError(CoreErrors.invalidOptions, `chaos: ${name} must be in [0, 1], got ${value}`);
  return r;
}

/** Whether an error came from {@link chaosBroker}. */
export function isChaosError(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === ErrorCodes.chaos;
}
