import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { duckdbAnalytics } from '../src/index.js';
import { describeAnalyticsConformance } from '../src/conformance.js';

const dir = mkdtempSync(join(tmpdir(), 'herald-analytics-duckdb-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const paths = new WeakMap<object, string>();

describeAnalyticsConformance({
  name: 'duckdbAnalytics (file)',
  async create(options) {
    const path = join(dir, `a-${++n}.duckdb`);
    const store = await duckdbAnalytics({ path, ...options });
    paths.set(store, path);
    return store;
  },
  async reopen(store, options) {
    await store.close();
    return duckdbAnalytics({ path: paths.get(store)!, ...options });
  },
});
