import { afterAll, describe, expect, it } from 'vitest';
import { httpBatch, httpSingle } from './support/client.js';
import { httpQueries, sendScenario, verifyQueries } from './support/drive.js';
import { tempDataDir } from './support/inProcess.js';
import { startService, stopService, type PipelineProcess } from './support/processes.js';
import { buildScenario } from './support/scenario.js';

/**
 * The consumer killed with SIGKILL right after slice 5 was acknowledged (while it is most likely
 * still applying it: a batch or an append to the analytics store may be cut halfway, though no
 * timing is relied on), then started again once three more slices wait on the log: it resumes
 * from what it committed, a minute closed but not committed closes again, and the store's appends
 * are idempotent by event id, so every query still answers exactly what was sent.
 */
describe('analytics-pipeline when the consumer crashes', () => {
  const data = tempDataDir('analytics-crash');
  const processes: PipelineProcess[] = [];
  afterAll(async () => {
    await Promise.all(processes.map((p) => stopService(p)));
    data.remove();
  });

  it('answers every query exactly after a SIGKILL and a restart of the consumer', { timeout: 180_000 }, async () => {
    const env = { HERALD_DATA_DIR: data.dir };
    let consumer = await startService('consumer', env);
    processes.push(consumer);
    const [producer, analytics] = await Promise.all([startService('producer', env), startService('analytics', env)]);
    processes.push(producer!, analytics!);
    const producerUrl = producer!.urls.producerHttp!;
    const scenario = buildScenario('crash', 4);
    await sendScenario(producerUrl, [httpSingle(producerUrl), httpBatch(producerUrl)], scenario, {
      afterSlice: async (index) => {
        if (index === 5) {
          consumer.child.kill('SIGKILL');
          expect(await consumer.exited).toBe('SIGKILL');
        }
        if (index === 8) {
          consumer = await startService('consumer', env);
          processes.push(consumer);
        }
      },
    });
    await verifyQueries(httpQueries(analytics!.urls.analyticsHttp!), scenario, 120_000);
    expect(await Promise.all([producer, analytics, consumer].map((p) => stopService(p)))).toEqual([0, 0, 0]);
  });
});
