import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sqliteEngine } from '@herald/sqlite';
import { describeSagaRuntime } from './runtimeSuite.js';

describeSagaRuntime({
  name: 'the embedded engine (SQLite files)',
  async newWorld() {
    const dataDir = await mkdtemp(join(tmpdir(), 'herald-saga-'));
    const engines: ReturnType<typeof sqliteEngine>[] = [];
    return {
      async open(clock) {
        // a restart opens the same files again; the app closes the engine it was given
        const engine = sqliteEngine({ dataDir, stores: { clock } });
        engines.push(engine);
        return { broker: engine.broker, stores: engine.stores };
      },
      async dispose() {
        for (const engine of engines) await engine.close();
        await rm(dataDir, { recursive: true, force: true });
      },
    };
  },
});
