import { uuidv7, type DeadLetter } from '@herald/core';
import { memoryBroker, memoryStores, type MemoryBroker, type MemoryStores } from '@herald/testing';
import { main, type CliEngine, type CliIo } from '../src/index.js';

/** A CliIo that records what the CLI writes and answers prompts with `answer`. */
export function fakeIo(options: { readonly tty?: boolean; readonly answer?: string } = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const asked: string[] = [];
  const stop = new AbortController();
  const io: CliIo = {
    stdout: { write: (text) => void out.push(text), drained: async () => {}, isTTY: false },
    stderr: { write: (text) => void err.push(text), drained: async () => {}, isTTY: options.tty ?? false },
    stdinIsTTY: options.tty ?? false,
    ask: async (question) => {
      asked.push(question);
      return options.answer ?? '';
    },
    env: {},
    signal: stop.signal,
  };
  return { io, stdout: () => out.join(''), stderr: () => err.join(''), asked, stop: () => stop.abort() };
}

/** An in-memory engine the CLI runs against (closing it is the test's business). */
export function memoryEngine(): { engine: CliEngine; broker: MemoryBroker; stores: MemoryStores } {
  const broker = memoryBroker({ partitions: 2 });
  const stores = memoryStores();
  return { engine: { broker, stores, description: 'memory', close: async () => {} }, broker, stores };
}

/** Runs `herald <argv>` against `engine`; resolves with the exit code and what was printed. */
export async function herald(engine: CliEngine, argv: readonly string[], options: { readonly tty?: boolean; readonly answer?: string } = {}) {
  const fake = fakeIo(options);
  const code = await main(argv, fake.io, { open: async () => engine });
  return { code, stdout: fake.stdout(), stderr: fake.stderr(), asked: fake.asked };
}

let clock = Date.parse('2025-06-01T12:00:00Z');

/** A dead letter of group `worker`, each one added after the previous (ids and times increase). */
export function letter(over: Partial<DeadLetter> = {}): DeadLetter {
  clock += 1000;
  const key = over.key ?? 'k';
  const eventId = uuidv7(clock);
  return {
    id: uuidv7(clock),
    group: 'worker',
    handler: 'worker:Step',
    eventId,
    eventType: 'Step',
    topic: 'steps',
    partition: 0,
    offset: 0,
    key,
    reason: 'handler-failed',
    fingerprint: 'fp-boom',
    error: { name: 'Error', message: 'boom' },
    attempts: 3,
    firstFailureAt: clock - 500,
    lastFailureAt: clock,
    envelope: JSON.stringify({ id: eventId, type: 'Step', version: 1, topic: 'steps', key, correlationId: eventId, causationId: null, occurredAt: new Date(clock).toISOString(), headers: {}, data: { key } }),
    headers: { traceparent: '00-trace-span-01' },
    policy: 'skip',
    status: 'dead',
    ...over,
  };
}

/** What must never reach a terminal raw: controls, bidi overrides and isolates. */
export const UNPRINTABLE = /[\p{Cc}\u202a-\u202e\u2066-\u2069]/u;
