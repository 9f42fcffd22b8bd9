import { silentLogger } from '@herald/core';
import type { Logger } from '@herald/core';

/** Options of {@link closeOnSignals}. */
export interface SignalOptions {
  /** Default `['SIGTERM', 'SIGINT']`. */
  readonly signals?: readonly NodeJS.Signals[];
  readonly logger?: Logger;
  /** Exit code used when a second signal arrives during shutdown. Default 130. */
  readonly forceExitCode?: number;
}

/**
 * Runs `close` once on the first SIGTERM or SIGINT; a second signal while closing exits at once
 * (the operator asked twice). When `close` settles, the handlers are removed and the exit code is
 * set (0, or 1 if `close` failed), leaving the process to exit once its handles are gone.
 * Returns a function that removes the handlers.
 */
export function closeOnSignals(close: () => Promise<void>, options: SignalOptions = {}): () => void {
  const signals = options.signals ?? ['SIGTERM', 'SIGINT'];
  const logger = options.logger ?? silentLogger;
  let closing = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (closing) {
      logger.warn('second signal during shutdown, exiting now', { signal });
      process.exit(options.forceExitCode ?? 130);
    }
    closing = true;
    logger.info('signal received, shutting down', { signal });
    close().then(
      () => {
        process.exitCode ??= 0;
        dispose();
      },
      (error: unknown) => {
        logger.error('shutdown failed', { error });
        process.exitCode = 1;
        dispose();
      },
    );
  };
  const dispose = () => signals.forEach((s) => process.off(s, onSignal));
  signals.forEach((s) => process.on(s, onSignal));
  return dispose;
}
