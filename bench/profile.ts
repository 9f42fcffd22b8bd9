// Profiling entry: one flat-out run of the pipeline on one engine (node --cpu-prof --import tsx bench/profile.ts [engine] [events]).
import { engines } from './engines.js';
import { runWorkload } from './workload.js';

const [name = 'embedded', events = '30000'] = process.argv.slice(2);
const engine = await engines[name]!();
const result = await runWorkload(engine, { events: Number(events), keys: 1000, concurrency: 512 });
await engine.cleanup();
console.log(`${name}: ${Math.round((result.events / result.elapsedMs) * 1000)} events/s`);
