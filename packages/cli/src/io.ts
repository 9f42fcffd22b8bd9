import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { HeraldError } from '@herald/core';
import { CliErrors } from './errors.js';
import { EXIT_CODES } from './exitCodes.js';

/** A stream the CLI writes to. */
export interface CliOutput {
  write(text: string): void;
  /**
   * Resolves once the stream can take more: at once unless its buffer is full, else on 'drain' (or
   * when it is gone). A command that writes without bound (`tail`) waits on it between records, so
   * a slow reader slows it down instead of filling memory.
   */
  drained(): Promise<void>;
  /** Whether it is a terminal (progress bars and colours only then). */
  readonly isTTY: boolean;
}

/**
 * Everything the CLI touches outside itself, so commands run the same under test: output streams,
 * whether a person could answer a prompt, the prompt itself, the environment and a stop signal.
 */
export interface CliIo {
  readonly stdout: CliOutput;
  readonly stderr: CliOutput;
  /** Whether stdin is a terminal: confirmations are asked only then. */
  readonly stdinIsTTY: boolean;
  /** Asks a question on the terminal and resolves with the answer line ('' when stdin ends or {@link signal} aborts first). */
  ask(question: string): Promise<string>;
  readonly env: Readonly<Record<string, string | undefined>>;
  /**
   * Aborted when the command should stop (SIGINT, SIGTERM, or its output's reader went away):
   * `tail` ends cleanly on it; redrive, discard and replay stop between steps, and opening the
   * engine and the read-only commands stop at once (see {@link untilStopped}), all with exit 130.
   */
  readonly signal: AbortSignal;
  /**
   * Called when the engine's close is left to run on its own after a stop (a connect under way to
   * a broker or database that does not answer outlives its bound): the process's io then lets the
   * process exit once the command has returned, rather than wait for that connect to give up.
   * Absent under test or when embedded: the close goes on in the background.
   */
  abandon?(): void;
}

/**
 * `work`, or `interrupted` as soon as the io's stop signal aborts, whichever comes first. For work
 * that changes nothing (opening the engine, reading): stopped, it is left to settle on its own
 * (the engine's close ends it), and the command ends with exit 130 at once. `doing` completes
 * "stopped while ...".
 */
export function untilStopped<T>(io: Pick<CliIo, 'signal'>, work: Promise<T>, doing: string): Promise<T> {
  const { signal } = io;
  const stopped = () => new HeraldError(CliErrors.interrupted, `stopped while ${doing}; nothing was changed`);
  if (signal.aborted) {
    work.catch(() => {});
    return Promise.reject(stopped());
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(stopped());
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** The streams {@link processIo} works on; the process's own unless given (tests, embedding). */
export interface ProcessStreams {
  readonly stdin: Readable & { readonly isTTY?: boolean };
  readonly stdout: Writable & { readonly isTTY?: boolean };
  readonly stderr: Writable & { readonly isTTY?: boolean };
}

/**
 * The real process: its streams, its environment, and SIGINT/SIGTERM as the stop signal. An
 * output whose reader went away (`herald tail ... | head -1`: EPIPE) stops the command quietly
 * through the same signal, and takes no more writes.
 */
export function processIo(streams: ProcessStreams = process): CliIo {
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  // with stderr gone, messages and progress are lost, but the command's work still stands
  const stderr = output(streams.stderr, () => {});
  const stdout = output(streams.stdout, (error) => {
    onSignal();
    // a closed pipe is the reader's way to say it has enough; any other failure is worth a line
    if (error.code !== 'EPIPE') stderr.write(`herald: writing to stdout failed: ${error.message}\n`);
  });
  return {
    stdout,
    stderr,
    stdinIsTTY: streams.stdin.isTTY === true,
    ask(question) {
      const rl = createInterface({ input: streams.stdin, output: streams.stderr });
      return new Promise<string>((resolve) => {
        let pending = true;
        // the first of: the answer, stdin ending (''), a stop signal ('', the caller reads the signal)
        const settle = (answer: string) => {
          if (!pending) return;
          pending = false;
          stop.signal.removeEventListener('abort', onStop);
          resolve(answer);
          rl.close();
        };
        const onStop = () => settle('');
        rl.question(question, settle);
        rl.once('close', () => settle(''));
        // a terminal in raw mode hands Ctrl-C to readline as a key, not to the process as SIGINT
        rl.once('SIGINT', onSignal);
        stop.signal.addEventListener('abort', onStop);
        if (stop.signal.aborted) onStop();
      });
    },
    env: process.env,
    signal: stop.signal,
    abandon() {
      // unref'd: fires only if something the close left running (a connect) keeps the process
      // alive once the command has returned and set its exit code
      setTimeout(() => process.exit(process.exitCode ?? EXIT_CODES.interrupted), ABANDON_EXIT_MS).unref();
    },
  };
}

/** How long the process waits for a command that returned before it exits past an abandoned close. */
const ABANDON_EXIT_MS = 50;

/** A CliOutput on `stream`: once the stream fails, writes are dropped and `onFailed` hears it once. */
function output(stream: Writable & { readonly isTTY?: boolean }, onFailed: (error: NodeJS.ErrnoException) => void): CliOutput {
  let failed = false;
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (failed) return;
    failed = true;
    onFailed(error);
  });
  return {
    write(text) {
      if (!failed && !stream.destroyed) stream.write(text);
    },
    drained() {
      if (failed || stream.destroyed || !stream.writableNeedDrain) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const done = () => {
          stream.off('drain', done).off('error', done).off('close', done);
          resolve();
        };
        stream.on('drain', done).on('error', done).on('close', done);
      });
    },
    isTTY: stream.isTTY === true,
  };
}
