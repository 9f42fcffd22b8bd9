// Measures one row in this process and prints one JSON line (run by bench/run.ts):
//   node --conditions=@herald/source --import tsx bench/measure.ts <row> [events] [latency-events] [deadline-ms]
// For each producer shape: flat-out runs of `events` (throughput: the median of three when a run is
// short) and a run of `latency-events` at 2,000 events/s (latency, after a warm-up of 4,000 events
// at that rate), each on a fresh row (fresh files, clusters and groups).
import { ROWS } from './rows.js';
import { percentile, round } from './stats.js';
import { runShape, type RunOptions, type RunResult, type Shape } from './workload.js';

const [rowName = 'embedded', eventsArg = '100000', latencyEventsArg = '20000', deadlineArg = '600000'] = process.argv.slice(2);
const factory = ROWS[rowName];
if (!factory) throw new Error(`unknown row ${rowName}; known: ${Object.keys(ROWS).join(', ')}`);

// A run that stalls (events lost, a broker gone) must not hang the benchmark: give up, and let the
// infrastructure's exit hooks stop the servers it started.
setTimeout(() => {
  process.stderr.write(`${rowName}: gave up after ${deadlineArg} ms (a run stalled, or the machine is too loaded: raise --deadline-ms)\n`);
  process.exit(1);
}, Number(deadlineArg)).unref();

async function measure(options: RunOptions): Promise<RunResult> {
  const row = await factory!();
  try {
    return await runShape(row, options);
  } finally {
    await row.close();
  }
}

/**
 * Two seconds at the latency run's rate before it is measured, on the same row: its first calls
 * otherwise land on a cold row (a worker thread's code not yet compiled, caches empty) and, with
 * twenty calls of 1,000 events in the batch shape, the slowest call is the p99.
 */
const LATENCY_WARMUP_EVENTS = 4000;

/**
 * Flat-out runs per shape when they are short: the median of three fresh runs, as one run of a
 * fast row on two cores moves ±15-25% (threads, checkpoints and collections landing differently).
 * A run longer than {@link REPEAT_BELOW_MS} (the slow rows, which move less) is measured once.
 */
const THROUGHPUT_RUNS = 3;
const REPEAT_BELOW_MS = 20_000;

async function throughputRuns(shape: Shape): Promise<number[]> {
  const rates: number[] = [];
  for (let run = 0; run < THROUGHPUT_RUNS; run++) {
    const result = await measure({ shape, events: Number(eventsArg) });
    rates.push(Math.round((result.events / result.elapsedMs) * 1000));
    if (result.elapsedMs >= REPEAT_BELOW_MS) break;
  }
  return rates;
}

const shapes: Record<string, unknown> = {};
for (const shape of ['batch', 'request'] as Shape[]) {
  const rates = await throughputRuns(shape);
  const latency = await measure({ shape, events: Number(latencyEventsArg), ratePerSec: 2000, warmupEvents: LATENCY_WARMUP_EVENTS });
  shapes[shape] = {
    throughputEventsPerSec: Math.round(percentile(rates, 50)),
    throughputRunsEventsPerSec: rates,
    latencyAt2kMs: { p50: round(percentile(latency.latenciesMs, 50)), p99: round(percentile(latency.latenciesMs, 99)), max: round(Math.max(...latency.latenciesMs)) },
  };
}
process.stdout.write(JSON.stringify({ row: rowName, events: Number(eventsArg), ...shapes, peakRssMiB: round(process.resourceUsage().maxRSS / 1024, 1) }) + '\n');
process.exit(0);
