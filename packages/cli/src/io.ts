import { createInterface } from 'node:readline';

/** A stream the CLI writes to. */
export interface CliOutput {
  write(text: string): void;
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
  /** Asks a question on the terminal and resolves with the answer line. */
  ask(question: string): Promise<string>;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Aborted when the command should stop (SIGINT, SIGTERM): `tail` ends cleanly on it. */
  readonly signal: AbortSignal;
}

/** The real process: its streams, its environment, and SIGINT/SIGTERM as the stop signal. */
export function processIo(): CliIo {
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const stream = (s: NodeJS.WriteStream): CliOutput => ({ write: (text) => void s.write(text), isTTY: s.isTTY === true });
  return {
    stdout: stream(process.stdout),
    stderr: stream(process.stderr),
    stdinIsTTY: process.stdin.isTTY === true,
    ask(question) {
      const rl = createInterface({ input: process.stdin, output: process.stderr });
      return new Promise<string>((resolve) => {
        rl.question(question, (answer) => {
          rl.close();
          resolve(answer);
        });
        rl.once('close', () => resolve(''));
      });
    },
    env: process.env,
    signal: stop.signal,
  };
}
