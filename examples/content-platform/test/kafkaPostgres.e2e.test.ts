import { startKafkaMock, type KafkaMock } from '@herald/testing/kafka-mock';
import { startPostgresCluster, type PostgresCluster } from '@herald/testing/postgres-cluster';
import { heldPartitions, holdingPartitions, type ProcessGroup } from '@herald/testing/processes';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { ContentApi, eventually } from './support/client.js';
import { contentProcesses } from './support/processes.js';
import { cast, expectFollowersTold, expectIndexed, writePosts } from './support/scenario.js';

// Seed 002 on Kafka (librdkafka's mock cluster) + PostgreSQL, configured by environment only: the
// same code as the embedded runs, as separate processes, with two replicas of search sharing its
// consumer group's partitions. One replica is SIGKILLed mid-run; the other takes its partitions
// over and the index still ends up with every post, updated and deleted as written.

let mock: KafkaMock | undefined;
let cluster: PostgresCluster | undefined;
let processes: ProcessGroup | undefined;
let api: ContentApi;

beforeAll(async () => {
  [mock, cluster] = await Promise.all([startKafkaMock({ brokers: 1 }), startPostgresCluster()]);
  processes = contentProcesses({
    ...mock.engineEnv,
    DATABASE_URL: await cluster.createDatabase('content_platform'),
    HERALD_PG_POOL_SIZE: '4',
    HERALD_CHAOS_RATE: '0.2',
    HERALD_CHAOS_AFTER_ACCEPT_RATE: '0.05',
  });
  await processes.start('api', 'api');
  await Promise.all([
    processes.start('content', 'content'),
    processes.start('comment', 'comment'),
    processes.start('search-a', 'search'),
    processes.start('search-b', 'search'),
    processes.start('notification', 'notification'),
  ]);
  api = new ContentApi(processes.url('api'));
}, 240_000);
afterAll(async () => {
  await processes?.stopAll();
  await Promise.all([mock?.stop(), cluster?.stop()]);
});

/** The partitions `name`'s search group holds, from its log. */
function owned(name: string): string[] {
  return [...heldPartitions(processes!.lines(name), 'search-indexer')].sort();
}

describe('content-platform on Kafka + PostgreSQL with two search replicas', () => {
  it('indexes and notifies every post across a SIGKILL of one search replica', async () => {
    const who = await cast(api, 'k');
    const progress = { done: 0 };
    const writing = writePosts(() => api, who, { prefix: 'k', count: 24, concurrency: 4, progress });
    // awaited below; should the test fail before, its requests failing at teardown are not news
    writing.catch(() => {});
    await eventually(() => (progress.done >= 8 ? true : undefined), 120_000, 'a third of the posts');
    // kill it while it holds partitions: a member holds none while its group rebalances
    const dying = [...(await holdingPartitions(() => processes!.lines('search-a'), 'search-indexer'))].sort();
    await processes!.crash('search-a');
    const posts = await writing;
    // the survivor took the dead replica's partitions over
    await eventually(() => (dying.every((p) => owned('search-b').includes(p)) ? true : undefined), 60_000, () => `search-b to own ${dying.join(',')} too, not only ${owned('search-b').join(',')}`);
    await expectFollowersTold(() => api, who, posts, 120_000);
    await expectIndexed(() => api, posts, 120_000);
  }, 600_000);
});
