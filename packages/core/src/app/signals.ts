import { silentLogger, type Logger } from '../ports/logger.js';

/** Options of {@link closeOnSignals}. */
export interface SignalOptions {
  /** Default `['SIGTERM', 'SIGINT']`. */
  readonly signals?: readonly NodeJS.Signals[];
  readonly logger?: Logger;
  /** Exit code when a second signal arrives during shutdown. Default 130. */
  readonly forceExitCode?: number;
  /**
   * Whether to exit once `close` settles (code 0, or 1 when it failed). Default true: a service
   * told to stop stops, even if a library left a handle open. With false, the handlers are removed
   * and only `process.exitCode` is set (tests, or a host that exits by itself).
   */
  readonly exit?: boolean;
}

/**
 * Runs `close` once on the first SIGTERM or SIGINT; a second signal while closing exits at once
 * (the operator asked twice). When `close` settles the process exits with code 0, or 1 if `close`
 * failed (see {@link SignalOptions.exit}). The one signal helper of Herald: apps
 * (`start({ handleSignals: true })`) and HTTP gateways use it alike. Returns a function that removes
 * the handlers.
 *
 * @example
 * closeOnSignals(async () => { await gateway.close(); await app.close(); }, { logger: app.logger });
 */
export function closeOnSignals(close: () => Promise<void>, options: SignalOptions = {}): () => void {
  const signals = options.signals ?? ['SIGTERM', 'SIGINT'];
  const logger = options.logger ?? silentLogger;
  let closing = false;
  const finish = (code: number) => {
    if (code !== 0 || process.exitCode === undefined) process.exitCode = code;
    if (options.exit ?? true) process.exit();
    dispose();
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (closing) {
      logger.warn('second signal during shutdown, exiting now', { signal });
      process.exit(options.forceExitCode ?? 130);
    }
    closing = true;
    logger.info('signal received, shutting down', { signal });
    close().then(
      () => finish(0),
      (error: unknown) => {
        logger.error('shutdown failed', { error });
        finish(1);
      },
    );
  };
  const dispose = () => signals.forEach((s) => process.off(s, onSignal));
  signals.forEach((s) => process.on(s, onSignal));
  return dispose;
}

/** A service a process runs until it is told to stop: what {@link runService} needs of it. */
export interface RunnableService {
  readonly logger: Logger;
  start(): Promise<unknown>;
  close(): Promise<void>;
}

/**
 * The body of a service's `main`: creates the service (a configuration error is logged with
 * `logger` and sets exit code 1; nothing is open yet), closes it on SIGTERM/SIGINT
 * ({@link closeOnSignals}), and starts it; a failed start is logged, closes what was opened and
 * sets exit code 1 (a start that fails after a signal closed the service is the service stopping,
 * not a failure). Resolves once started (or failed, or stopped).
 *
 * @example
 * await runService('ticket-orders', () => createTicketOrders(loadConfig()), { logger: pinoLogger() });
 */
export async function runService(name: string, create: () => Promise<RunnableService>, options: { readonly logger: Logger; readonly signals?: SignalOptions }): Promise<void> {
  let service: RunnableService;
  try {
    service = await create();
  } catch (error) {
    options.logger.error(`${name} failed to start`, { error });
    process.exitCode = 1;
    return;
  }
  let told = false;
  closeOnSignals(
    () => {
      told = true;
      return service.close();
    },
    { logger: service.logger, ...options.signals },
  );
  try {
    await service.start();
  } catch (error) {
    // a signal during the start closed the service, and the start gave up: it stopped as told
    if (told) {
      service.logger.info(`${name} stopped while starting`, { error });
      return;
    }
    service.logger.error(`${name} failed to start`, { error });
    await service.close().catch(() => {});
    process.exitCode = 1;
  }
}
