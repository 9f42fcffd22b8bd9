// npm run bench [-- --json] [--rows ceiling-sqlite,embedded,...] [--events 100000] [--latency-events 20000] [--deadline-ms 600000]
// npm run bench -- --backlog [1000000]: memory while a backlog of that many events drains (bench/backlog.ts)
// npm run bench -- --stream [100000]: seed 001's ingest → log → windowed stream workload on both engines (bench/stream.ts)
// npm run bench -- --overhead [6] [--shape request] [--variants a,b] [--callers n]: what metrics and tracing cost, in that many interleaved rounds with a control (bench/overhead.ts)
// npm run bench -- --analytics [1000000]: the analytics store on SQLite and on DuckDB, seed 001's queries (bench/analytics.ts)
// Measures every row in its own process (so peak RSS is its own), each producer shape flat out and
// at 2,000 events/s, and compares Herald's rows with the ceiling row of the same infrastructure.
// The Kafka + PostgreSQL rows start a mock Kafka cluster (kcat) and a throwaway PostgreSQL 15
// cluster per measured run; see bench/engines.ts for how each is tuned.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CEILING_OF, nodeFlagsOf, ROWS } from './rows.js';

const args = process.argv.slice(2);
const json = args.includes('--json');
const option = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : fallback;
};
const rowNames = option('rows', Object.keys(ROWS).join(',')).split(',');
const events = option('events', '100000');
const latencyEvents = option('latency-events', '20000');
const deadlineMs = option('deadline-ms', '600000');

/** The targets of Herald's tuned rows against their ceiling, for the batch-import shape. */
const TARGETS = { minThroughputRatio: 0.5, maxP99Ratio: 2 } as const;

interface ShapeResult {
  /** The median of `throughputRunsEventsPerSec`. */
  throughputEventsPerSec: number;
  /** Each flat-out run's rate: three when a run is short, else one (bench/measure.ts). */
  throughputRunsEventsPerSec: number[];
  latencyAt2kMs: { p50: number; p99: number; max: number };
}
interface Result {
  row: string;
  events: number;
  batch: ShapeResult;
  request: ShapeResult;
  peakRssMiB: number;
  ratioToCeiling?: { ceiling: string; batch: Ratios; request: Ratios };
  /** A variant (`embedded+metrics`): its throughput and p99 against its base row (`embedded`) of the same run. */
  ratioToBase?: { base: string; batch: Ratios; request: Ratios };
}
interface Ratios {
  throughput: number;
  p99: number;
}

/** `--<flag> [n]`: the count after the flag, or `fallback`; undefined without the flag. */
const countAfter = (flag: string, fallback: string): string | undefined => {
  const at = args.indexOf(`--${flag}`);
  if (at < 0) return undefined;
  return args[at + 1] && /^\d+$/.test(args[at + 1]!) ? args[at + 1]! : fallback;
};

/**
 * Runs another bench script with the repository's source condition, its output straight to ours,
 * and exits with its status; killed past `timeoutMs` when given.
 */
function runScript(script: string, scriptArgs: readonly string[], timeoutMs?: number): never {
  const child = spawnSync(process.execPath, ['--conditions=@herald/source', '--import', 'tsx', fileURLToPath(new URL(script, import.meta.url)), ...scriptArgs], {
    stdio: ['ignore', 'inherit', 'inherit'],
    ...(timeoutMs === undefined ? {} : { timeout: timeoutMs, killSignal: 'SIGKILL' as const }),
  });
  process.exit(child.status ?? 1);
}

const overhead = countAfter('overhead', '6');
// `--name value` as overhead.ts takes it, `--name=value`, when given
const passOn = (name: string) => (args.includes(`--${name}`) ? [`--${name}=${option(name, '')}`] : []);
if (overhead !== undefined) runScript('./overhead.ts', [overhead, events, ...passOn('shape'), ...passOn('variants'), ...passOn('callers'), ...(json ? ['--json'] : [])]);
const analytics = countAfter('analytics', '1000000');
if (analytics !== undefined) runScript('./analytics.ts', [analytics, ...(json ? ['--json'] : [])], Number(deadlineMs) + 30_000);
const stream = countAfter('stream', '100000');
// each engine's measurement has its own 10-minute limit (bench/stream.ts)
if (stream !== undefined) runScript('./stream.ts', [stream, ...(json ? ['--json'] : [])]);

const backlog = countAfter('backlog', '1000000');
if (backlog !== undefined) {
  const child = spawnSync(process.execPath, ['--conditions=@herald/source', '--import', 'tsx', fileURLToPath(new URL('./backlog.ts', import.meta.url)), backlog], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: Number(deadlineMs) + 30_000,
    killSignal: 'SIGKILL',
  });
  if (child.status !== 0) {
    process.stderr.write(`backlog measurement failed (exit ${child.status ?? child.signal})\n`);
    process.exit(1);
  }
  process.stdout.write(child.stdout);
  process.exit(0);
}

const results: Result[] = [];
for (const row of rowNames) {
  if (!ROWS[row]) throw new Error(`unknown row ${row}; known: ${Object.keys(ROWS).join(', ')}`);
  if (!json) process.stderr.write(`measuring ${row}: ${events} events flat out, then ${latencyEvents} at 2,000/s, per producer shape...\n`);
  const started = performance.now();
  const child = spawnSync(process.execPath, [...nodeFlagsOf(row), '--conditions=@herald/source', '--import', 'tsx', fileURLToPath(new URL('./measure.ts', import.meta.url)), row, events, latencyEvents, deadlineMs], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 16 * 1024 * 1024,
    timeout: Number(deadlineMs) + 30_000,
    killSignal: 'SIGKILL',
  });
  if (child.status !== 0) {
    process.stderr.write(`benchmark of ${row} failed (exit ${child.status ?? child.signal})\n`);
    process.exitCode = 1;
    continue;
  }
  results.push(JSON.parse(child.stdout.trim().split('\n').pop()!) as Result);
  if (!json) process.stderr.write(`  ${row} done in ${Math.round((performance.now() - started) / 1000)} s\n`);
}

for (const result of results) {
  const ceiling = results.find((r) => r.row === CEILING_OF[result.row]);
  if (!ceiling) continue;
  const ratios = (shape: 'batch' | 'request'): Ratios => ({
    throughput: round(result[shape].throughputEventsPerSec / ceiling[shape].throughputEventsPerSec),
    p99: round(result[shape].latencyAt2kMs.p99 / ceiling[shape].latencyAt2kMs.p99),
  });
  result.ratioToCeiling = { ceiling: ceiling.row, batch: ratios('batch'), request: ratios('request') };
}
// what observability costs: each variant against the row it adds to, measured in the same run
for (const result of results) {
  const at = result.row.indexOf('+');
  const base = at > 0 ? results.find((r) => r.row === result.row.slice(0, at)) : undefined;
  if (!base) continue;
  const ratios = (shape: 'batch' | 'request'): Ratios => ({
    throughput: round(result[shape].throughputEventsPerSec / base[shape].throughputEventsPerSec),
    p99: round(result[shape].latencyAt2kMs.p99 / base[shape].latencyAt2kMs.p99),
  });
  result.ratioToBase = { base: base.row, batch: ratios('batch'), request: ratios('request') };
}

if (json) {
  for (const result of results) process.stdout.write(JSON.stringify(result) + '\n');
} else if (results.length > 0) {
  const verdict = (ok: boolean) => (ok ? 'met' : 'MISSED');
  console.table(
    results.flatMap((r) =>
      (['batch', 'request'] as const).map((shape) => ({
        row: r.row,
        shape,
        'events/s': r[shape].throughputEventsPerSec,
        runs: r[shape].throughputRunsEventsPerSec.join(' '),
        'p50 ms @2k/s': r[shape].latencyAt2kMs.p50,
        'p99 ms @2k/s': r[shape].latencyAt2kMs.p99,
        'peak RSS MiB': r.peakRssMiB,
        ...(r.ratioToCeiling
          ? {
              'x ceiling events/s': `${r.ratioToCeiling[shape].throughput}` + (shape === 'batch' && !r.row.endsWith('-default') ? ` (>= ${TARGETS.minThroughputRatio}: ${verdict(r.ratioToCeiling[shape].throughput >= TARGETS.minThroughputRatio)})` : ''),
              'x ceiling p99': `${r.ratioToCeiling[shape].p99}` + (shape === 'batch' && !r.row.endsWith('-default') ? ` (<= ${TARGETS.maxP99Ratio}: ${verdict(r.ratioToCeiling[shape].p99 <= TARGETS.maxP99Ratio)})` : ''),
            }
          : {}),
        ...(r.ratioToBase ? { [`x base events/s`]: `${r.ratioToBase[shape].throughput} (of ${r.ratioToBase.base})` } : {}),
      })),
    ),
  );
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
