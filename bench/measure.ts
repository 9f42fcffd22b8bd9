// Measures one engine in this process and prints one JSON line (run by bench/run.ts).
// node --conditions=@herald/source --import tsx bench/measure.ts <engine> [events] [latency-events] [deadline-ms]
import { runBaseline } from './baseline.js';
import { engines } from './engines.js';
import { percentile, round } from './stats.js';
import { runWorkload, type WorkloadOptions, type WorkloadResult } from './workload.js';

/** Runs one measured run of the workload (fresh infrastructure each time) and tears it down. */
type Measure = (options: WorkloadOptions) => Promise<WorkloadResult>;

const measures: Record<string, Measure> = {
  ...Object.fromEntries(
    Object.entries(engines).map(([name, factory]): [string, Measure] => [
      name,
      async (options) => {
        const engine = await factory();
        try {
          return await runWorkload(engine, options);
        } finally {
          await engine.cleanup();
        }
      },
    ]),
  ),
  'baseline-kafkajs-pg': runBaseline,
};

const [engineName = 'embedded', eventsArg = '100000', latencyEventsArg = '20000', deadlineArg = '180000'] = process.argv.slice(2);
const measure = measures[engineName];
if (!measure) throw new Error(`unknown engine ${engineName}; known: ${Object.keys(measures).join(', ')}`);
const events = Number(eventsArg);
const latencyEvents = Number(latencyEventsArg);

// A run that stalls (events lost, a broker gone) must not hang the benchmark: give up, and let the
// infrastructure's exit hooks stop the servers it started.
const deadlineMs = Number(deadlineArg);
setTimeout(() => {
  process.stderr.write(`${engineName}: gave up after ${deadlineMs} ms (a run stalled, or the machine is too loaded: raise --deadline-ms)\n`);
  process.exit(1);
}, deadlineMs).unref();

const throughput = await measure({ events, keys: 1000, concurrency: 512 });
const latency = await measure({ events: latencyEvents, keys: 1000, ratePerSec: 2000 });
const result = {
  engine: engineName,
  events,
  throughputEventsPerSec: Math.round((throughput.events / throughput.elapsedMs) * 1000),
  // this process' CPU per event in the flat-out run (the servers an engine starts are not in it)
  ...(throughput.cpuMs === undefined ? {} : { cpuUsPerEvent: round((throughput.cpuMs * 1000) / throughput.events) }),
  latencyAt2kMs: {
    p50: round(percentile(latency.latenciesMs, 50)),
    p99: round(percentile(latency.latenciesMs, 99)),
    max: round(Math.max(...latency.latenciesMs)),
  },
  peakRssMiB: round(process.resourceUsage().maxRSS / 1024, 1),
};
process.stdout.write(JSON.stringify(result) + '\n');
process.exit(0);
