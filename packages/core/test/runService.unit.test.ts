import { afterEach, describe, expect, it } from 'vitest';
import { runService, type Logger, type RunnableService } from '../src/index.js';

/** A logger that keeps its error lines. */
function recordingLogger(): Logger & { errors: string[] } {
  const errors: string[] = [];
  const logger = {
    errors,
    debug: () => {},
    info: () => {},
    warn: () => {},
    error: (msg: string) => void errors.push(msg),
    child: () => logger,
  };
  return logger as unknown as Logger & { errors: string[] };
}

function service(options: { failStart?: boolean } = {}) {
  const calls: string[] = [];
  const logger = recordingLogger();
  const runnable: RunnableService = {
    logger,
    start: async () => {
      calls.push('start');
      if (options.failStart) throw new Error('port in use');
    },
    close: async () => void calls.push('close'),
  };
  return { runnable, calls, logger };
}

describe('runService', () => {
  afterEach(() => {
    process.exitCode = undefined;
    process.removeAllListeners('SIGUSR2');
  });

  it('logs a failed creation and sets exit code 1, opening nothing', async () => {
    const logger = recordingLogger();
    await runService('shop', () => Promise.reject(new Error('PORT must be an integer')), { logger });
    expect(logger.errors).toEqual(['shop failed to start']);
    expect(process.exitCode).toBe(1);
  });

  it('closes what a failed start opened and sets exit code 1', async () => {
    const s = service({ failStart: true });
    await runService('shop', async () => s.runnable, { logger: recordingLogger(), signals: { signals: ['SIGUSR2'], exit: false } });
    expect(s.calls).toEqual(['start', 'close']);
    expect(s.logger.errors).toEqual(['shop failed to start']);
    expect(process.exitCode).toBe(1);
  });

  it('starts the service and closes it on the signal', async () => {
    const s = service();
    await runService('shop', async () => s.runnable, { logger: recordingLogger(), signals: { signals: ['SIGUSR2'], exit: false } });
    expect(s.calls).toEqual(['start']);
    expect(process.exitCode).toBeUndefined();
    process.emit('SIGUSR2', 'SIGUSR2');
    await new Promise((resolve) => setImmediate(resolve));
    expect(s.calls).toEqual(['start', 'close']);
    expect(process.exitCode).toBe(0);
  });

  it('a signal during a slow start stops the service: the start it ends is no failure', async () => {
    const calls: string[] = [];
    const logger = recordingLogger();
    let closed!: () => void;
    const closing = new Promise<void>((resolve) => (closed = resolve));
    const runnable: RunnableService = {
      logger,
      start: async () => {
        calls.push('start');
        await closing;
        throw new Error('closed while starting');
      },
      close: async () => {
        calls.push('close');
        closed();
      },
    };
    const running = runService('shop', async () => runnable, { logger: recordingLogger(), signals: { signals: ['SIGUSR2'], exit: false } });
    await new Promise((resolve) => setImmediate(resolve));
    expect(calls).toEqual(['start']);
    process.emit('SIGUSR2', 'SIGUSR2');
    await running;
    await new Promise((resolve) => setImmediate(resolve));
    expect(logger.errors).toEqual([]);
    expect(calls).toEqual(['start', 'close']);
    expect(process.exitCode).toBe(0);
  });
});
