import { startPostgresCluster, type PostgresCluster } from '@herald/testing/postgres-cluster';
import { afterAll, beforeAll } from 'vitest';
import { pgAnalytics } from '../src/index.js';
import { describeAnalyticsConformance } from '../src/conformance.js';

let cluster: PostgresCluster | undefined;
let databases = 0;
const urls = new WeakMap<object, string>();

beforeAll(async () => {
  cluster = await startPostgresCluster();
});
afterAll(async () => {
  await cluster?.stop();
});

describeAnalyticsConformance({
  name: 'pgAnalytics',
  async create(options) {
    if (!cluster) throw new Error('PostgreSQL test cluster not started');
    const url = await cluster.createDatabase(`analytics_${++databases}`);
    const store = await pgAnalytics({ connectionString: url, ...options });
    urls.set(store, url);
    return store;
  },
  async reopen(store, options) {
    await store.close();
    return pgAnalytics({ connectionString: urls.get(store)!, ...options });
  },
});
