import { afterAll, describe, expect, it, vi } from 'vitest';
import type * as WorkerThreads from 'node:worker_threads';
import { Type } from '@sinclair/typebox';
import { createApp, defineEvent, type Logger } from '@herald/core';
import { sqliteEngine } from '@herald/sqlite';
import { tempDir, waitFor } from './helpers.js';

// the relay thread's Worker, to end it as a crash would (it is not reachable otherwise)
const workers = vi.hoisted(() => [] as { worker: WorkerThreads.Worker; data: unknown }[]);
vi.mock('node:worker_threads', async (importOriginal) => {
  const actual = await importOriginal<typeof WorkerThreads>();
  class RecordedWorker extends actual.Worker {
    constructor(...args: ConstructorParameters<typeof actual.Worker>) {
      super(...args);
      workers.push({ worker: this, data: args[1]?.workerData });
    }
  }
  return { ...actual, Worker: RecordedWorker };
});

const tmp = tempDir('herald-relay-thread-exit-');
afterAll(() => tmp.remove());
const Noted = defineEvent({ type: 'Noted', topic: 'notes', key: (d) => d.id, schema: Type.Object({ id: Type.String() }) });

describe('a relay thread that dies while the app runs', () => {
  it('is logged as an error and fails readiness, and the app still closes', async () => {
    const errors: { message: string; fields: Record<string, unknown> | undefined }[] = [];
    const logger: Logger = { debug() {}, info() {}, warn() {}, error: (message, fields) => void errors.push({ message, fields }), child: () => logger };
    const engine = sqliteEngine({ dataDir: tmp.dir, relayThread: true });
    const app = createApp({ name: 'relay-thread-exit', ...engine, logger, events: [Noted] });
    await app.start();
    await app.ready();
    // the relay's, not the checkpointers'
    const relayThreads = workers.filter(({ data }) => (data as { wakePending?: unknown } | undefined)?.wakePending !== undefined);
    expect(relayThreads).toHaveLength(1);
    await relayThreads[0]!.worker.terminate(); // as an uncaught error or running out of memory would
    await waitFor(() => errors.length > 0, 5000, 'an error log');
    expect(errors[0]!.message).toContain('relay thread exited unexpectedly');
    expect(errors[0]!.fields).toMatchObject({ exitCode: 1 });
    await expect(app.ready()).rejects.toMatchObject({ code: 'closed', message: expect.stringContaining('relay thread') });
    let timer: NodeJS.Timeout | undefined;
    const hung = new Promise<string>((resolve) => (timer = setTimeout(() => resolve('still pending after 5 s'), 5000)));
    expect(await Promise.race([app.close({ deadlineMs: 1000 }).then(() => 'closed'), hung])).toBe('closed');
    clearTimeout(timer);
  });
});
