import { afterAll, describe, it } from 'vitest';
import { tempDataDir } from './support/inProcess.js';
import { stopService, type PipelineProcess } from './support/processes.js';
import { runSeparately } from './support/separate.js';

/** The three services as three processes on one embedded log and store (the analytics store a shared SQLite file). */
describe('analytics-pipeline as three processes on the embedded engine', () => {
  const data = tempDataDir('analytics-services');
  const processes: PipelineProcess[] = [];
  afterAll(async () => {
    await Promise.all(processes.map((p) => stopService(p)));
    data.remove();
  });

  it('answers every query exactly, over HTTP and gRPC, across the processes', { timeout: 180_000 }, async () => {
    await runSeparately({ HERALD_DATA_DIR: data.dir }, 'svc', processes, { engine: /^embedded/, analyticsStore: 'sqlite' });
  });
});
