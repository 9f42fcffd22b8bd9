// Measures one engine in this process and prints one JSON line (run by bench/run.ts).
import { engines } from './engines.js';
import { percentile, round } from './stats.js';
import { runWorkload } from './workload.js';

const [engineName = 'embedded', eventsArg = '100000', latencyEventsArg = '20000'] = process.argv.slice(2);
const factory = engines[engineName];
if (!factory) throw new Error(`unknown engine ${engineName}; known: ${Object.keys(engines).join(', ')}`);
const events = Number(eventsArg);
const latencyEvents = Number(latencyEventsArg);

async function measured(run: (engine: Awaited<ReturnType<typeof factory>>) => ReturnType<typeof runWorkload>) {
  const engine = await factory!();
  try {
    return await run(engine);
  } finally {
    await engine.cleanup();
  }
}

const throughput = await measured((engine) => runWorkload(engine, { events, keys: 1000, concurrency: 512 }));
const latency = await measured((engine) => runWorkload(engine, { events: latencyEvents, keys: 1000, ratePerSec: 2000 }));
const result = {
  engine: engineName,
  events,
  throughputEventsPerSec: Math.round((throughput.events / throughput.elapsedMs) * 1000),
  latencyAt2kMs: {
    p50: round(percentile(latency.latenciesMs, 50)),
    p99: round(percentile(latency.latenciesMs, 99)),
    max: round(Math.max(...latency.latenciesMs)),
  },
  peakRssMiB: round(process.resourceUsage().maxRSS / 1024, 1),
};
process.stdout.write(JSON.stringify(result) + '\n');
