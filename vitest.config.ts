import { defaultClientConditions, defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';

// @herald/* packages export `@herald/source` (their src/*.ts) ahead of `types`/`default` (dist/): tests run
// against the sources, with no build first.
const SOURCE = '@herald/source';

export default defineConfig({
  resolve: { conditions: [SOURCE, ...defaultClientConditions] },
  // without vite's `module` condition: with it, @opentelemetry/* resolve to ESM builds meant for
  // bundlers (extensionless imports) that Node cannot load; `node`/`default` give their CJS builds
  ssr: { resolve: { conditions: [SOURCE, ...defaultServerConditions.filter((c) => c !== 'module')] } },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'examples/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    // native modules, child processes and real servers: separate processes per file
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
    reporters: ['default', 'json'],
    outputFile: { json: '.vitest-results.json' },
  },
});
