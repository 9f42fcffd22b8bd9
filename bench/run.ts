// npm run bench [-- --json] [--engines embedded,embedded+tracing,kafka-postgres,baseline-kafkajs-pg] [--events 100000]
//   [--latency-events 20000] [--deadline-ms 180000]
// Measures the full reliable pipeline per engine, each in its own process (so peak RSS is its own).
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
const engineNames = option('engines', 'embedded,embedded+tracing,kafka-postgres,baseline-kafkajs-pg').split(',');
const events = option('events', '100000');
const latencyEvents = option('latency-events', '20000');
/** Bound of one engine's two runs; a stalled engine fails instead of hanging the benchmark. */
const deadlineMs = option('deadline-ms', '180000');

/** The pipeline compared with the hand-written baseline, and the targets. */
const COMPARED = { engine: 'kafka-postgres', baseline: 'baseline-kafkajs-pg', minThroughputRatio: 0.8, maxP99Ratio: 1.5 } as const;

interface Result {
  engine: string;
  events: number;
  throughputEventsPerSec: number;
  latencyAt2kMs: { p50: number; p99: number; max: number };
  peakRssMiB: number;
}

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
    ...(baseline && r.engine === COMPARED.engine ? ratios(r, baseline) : {}),
    ...variantOf(r),
  }));
  console.table(rows);
}

/**
 * An engine `base+feature` (`embedded+tracing`) against `base` measured in the same run: its
 * throughput overhead, which should stay under 10 %.
 */
function variantOf(result: Result): Record<string, string> {
  const base = results.find((r) => r.engine === result.engine.split('+')[0] && r !== result);
  if (!result.engine.includes('+') || !base) return {};
  const overhead = 1 - result.throughputEventsPerSec / base.throughputEventsPerSec;
  return { 'overhead vs base': `${(overhead * 100).toFixed(1)} % of ${base.engine}'s events/s (< 10 %: ${overhead < 0.1 ? 'met' : 'MISSED'})` };
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
