// npm run bench [-- --json] [--engines embedded,kafka-postgres,baseline-kafkajs-pg] [--events 100000]
//   [--latency-events 20000] [--deadline-ms 180000]
// Measures the full reliable pipeline per engine, each in its own process (so peak RSS is its own).
// A variant `<engine>+<what>` (embedded+metrics) is compared with the run of `<engine>` measured
// just before it: its throughput overhead is printed (list both, alternated, to average out noise:
// --engines embedded,embedded+metrics,embedded,embedded+metrics).
// kafka-postgres and baseline-kafkajs-pg start a mock Kafka cluster (kcat) and a throwaway
// PostgreSQL 15 cluster per measured run; see bench/engines.ts for how each is tuned.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const json = args.includes('--json');
const option = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : fallback;
};
const engineNames = option('engines', 'embedded,kafka-postgres,baseline-kafkajs-pg').split(',');
const events = option('events', '100000');
const latencyEvents = option('latency-events', '20000');
/** Bound of one engine's two runs; a stalled engine fails instead of hanging the benchmark. */
const deadlineMs = option('deadline-ms', '180000');

/** The pipeline compared with the hand-written baseline, and the issue's targets. */
const COMPARED = { engine: 'kafka-postgres', baseline: 'baseline-kafkajs-pg', minThroughputRatio: 0.8, maxP99Ratio: 1.5 } as const;

interface Result {
  engine: string;
  events: number;
  throughputEventsPerSec: number;
  latencyAt2kMs: { p50: number; p99: number; max: number };
  peakRssMiB: number;
  /** CPU of the benchmark process per event in the flat-out run, when measured (not the baseline's). */
  cpuUsPerEvent?: number;
  /** For a variant: its throughput (and CPU per event) against the plain engine's run just before it. */
  overhead?: { vs: string; throughputRatio: number; overheadPercent: number; cpuOverheadPercent?: number };
}

/** The most recent result of the engine a variant (`embedded+metrics`) adds to. */
function plainRunFor(engine: string): Result | undefined {
  const plus = engine.indexOf('+');
  if (plus < 0) return undefined;
  return results.findLast((r) => r.engine === engine.slice(0, plus));
}

/** A percentage with its sign, `+3.2` or `-1.5`. */
function signed(percent: number): string {
  return `${percent >= 0 ? '+' : ''}${percent}`;
}

/** Overhead targets of the observability variants (issue 9: under 10% of throughput). */
const MAX_OVERHEAD_PERCENT = 10;

const results: Result[] = [];
for (const engine of engineNames) {
  if (!json) process.stderr.write(`measuring ${engine}: ${events} events flat out, then ${latencyEvents} at 2,000/s...\n`);
  const started = performance.now();
  const child = spawnSync(process.execPath, ['--conditions=@herald/source', '--import', 'tsx', fileURLToPath(new URL('./measure.ts', import.meta.url)), engine, events, latencyEvents, deadlineMs], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 16 * 1024 * 1024,
    // measure.ts gives up at the deadline itself; this only catches a child that cannot
    timeout: Number(deadlineMs) + 30_000,
    killSignal: 'SIGKILL',
  });
  if (child.status !== 0) {
    process.stderr.write(`benchmark of ${engine} failed (exit ${child.status ?? child.signal})\n`);
    process.exitCode = 1;
    continue;
  }
  const line = child.stdout.trim().split('\n').pop()!;
  const result = JSON.parse(line) as Result;
  const plain = plainRunFor(result.engine);
  if (plain) {
    const throughputRatio = result.throughputEventsPerSec / plain.throughputEventsPerSec;
    const cpu = result.cpuUsPerEvent !== undefined && plain.cpuUsPerEvent !== undefined ? { cpuOverheadPercent: Number(((result.cpuUsPerEvent / plain.cpuUsPerEvent - 1) * 100).toFixed(1)) } : {};
    result.overhead = { vs: plain.engine, throughputRatio: Number(throughputRatio.toFixed(3)), overheadPercent: Number(((1 - throughputRatio) * 100).toFixed(1)), ...cpu };
  }
  results.push(result);
  if (json) process.stdout.write(JSON.stringify(result) + '\n');
  else process.stderr.write(`  ${engine} done in ${Math.round((performance.now() - started) / 1000)} s\n`);
}

if (!json && results.length > 0) {
  const baseline = results.find((r) => r.engine === COMPARED.baseline);
  const rows = results.map((r) => ({
    engine: r.engine,
    events: r.events,
    'events/s': r.throughputEventsPerSec,
    'p50 ms @2k/s': r.latencyAt2kMs.p50,
    'p99 ms @2k/s': r.latencyAt2kMs.p99,
    'max ms @2k/s': r.latencyAt2kMs.max,
    'peak RSS MiB': r.peakRssMiB,
    'CPU µs/event': r.cpuUsPerEvent ?? '',
    ...(baseline && r.engine === COMPARED.engine ? ratios(r, baseline) : {}),
    ...(r.overhead
      ? {
          [`overhead vs ${r.overhead.vs}`]: `${r.overhead.overheadPercent}% (< ${MAX_OVERHEAD_PERCENT}%: ${r.overhead.overheadPercent < MAX_OVERHEAD_PERCENT ? 'met' : 'MISSED'})`,
          'CPU/event vs it': r.overhead.cpuOverheadPercent === undefined ? '' : `${signed(r.overhead.cpuOverheadPercent)}%`,
        }
      : {}),
  }));
  console.table(rows);
  for (const variant of new Set(results.filter((r) => r.overhead).map((r) => r.engine))) {
    const pairs = results.filter((r) => r.engine === variant && r.overhead);
    if (pairs.length < 2) continue;
    const mean = (values: number[]) => (values.reduce((sum, v) => sum + v, 0) / values.length).toFixed(1);
    const throughput = pairs.map((r) => r.overhead!.overheadPercent);
    const cpu = pairs.flatMap((r) => (r.overhead!.cpuOverheadPercent === undefined ? [] : [r.overhead!.cpuOverheadPercent]));
    console.log(`${variant} over ${pairs.length} pairs: throughput overhead ${mean(throughput)}% (each: ${throughput.join('%, ')}%)${cpu.length ? `, CPU per event ${signed(Number(mean(cpu)))}% (each: ${cpu.map(signed).join('%, ')}%)` : ''}`);
  }
}

/** Throughput and p99 of the pipeline as ratios of the baseline's, with the targets they must meet. */
function ratios(result: Result, baseline: Result): Record<string, string> {
  const throughput = result.throughputEventsPerSec / baseline.throughputEventsPerSec;
  const p99 = result.latencyAt2kMs.p99 / baseline.latencyAt2kMs.p99;
  const verdict = (ok: boolean) => (ok ? 'met' : 'MISSED');
  return {
    'events/s vs baseline': `${throughput.toFixed(2)}x (>= ${COMPARED.minThroughputRatio}: ${verdict(throughput >= COMPARED.minThroughputRatio)})`,
    'p99 vs baseline': `${p99.toFixed(2)}x (<= ${COMPARED.maxP99Ratio}: ${verdict(p99 <= COMPARED.maxP99Ratio)})`,
  };
}
