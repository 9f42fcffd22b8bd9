import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Engine } from './workload.js';

/** Creates a fresh, empty engine of the named kind for one measurement. */
export type EngineFactory = () => Promise<Engine>;

export const engines: Record<string, EngineFactory> = {
  async embedded() {
    const { sqliteEngine } = await import('@herald/sqlite');
    const dataDir = mkdtempSync(join(tmpdir(), 'herald-bench-'));
    const engine = sqliteEngine({ dataDir });
    return {
      name: 'embedded',
      broker: engine.broker,
      stores: engine.stores,
      async cleanup() {
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  },
};
