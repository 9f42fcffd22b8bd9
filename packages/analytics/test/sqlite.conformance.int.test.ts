import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { sqliteAnalytics } from '../src/index.js';
import { describeAnalyticsConformance } from '../src/conformance.js';

const dir = mkdtempSync(join(tmpdir(), 'herald-analytics-sqlite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const paths = new WeakMap<object, string>();

describeAnalyticsConformance({
  name: 'sqliteAnalytics (file)',
  async create(options) {
    const path = join(dir, `a-${++n}.db`);
    const store = sqliteAnalytics({ path, ...options });
    paths.set(store, path);
    return store;
  },
  async reopen(store, options) {
    await store.close();
    return sqliteAnalytics({ path: paths.get(store)!, ...options });
  },
});
