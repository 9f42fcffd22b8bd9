// npm run bench [-- --json] [--engines embedded,...] [--events 100000]
// Measures the full reliable pipeline per engine, each in its own process (so peak RSS is its own).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const json = args.includes('--json');
const option = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : fallback;
};
const engineNames = option('engines', 'embedded').split(',');
const events = option('events', '100000');
const latencyEvents = option('latency-events', '20000');

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
  const child = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./measure.ts', import.meta.url)), engine, events, latencyEvents], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 16 * 1024 * 1024,
  });
  if (child.status !== 0) {
    process.stderr.write(`benchmark of ${engine} failed (exit ${child.status})\n`);
    process.exitCode = 1;
    continue;
  }
  const line = child.stdout.trim().split('\n').pop()!;
  const result = JSON.parse(line) as Result;
  results.push(result);
  if (json) process.stdout.write(JSON.stringify(result) + '\n');
}

if (!json && results.length > 0) {
  const rows = results.map((r) => ({
    engine: r.engine,
    events: r.events,
    'events/s': r.throughputEventsPerSec,
    'p50 ms @2k/s': r.latencyAt2kMs.p50,
    'p99 ms @2k/s': r.latencyAt2kMs.p99,
    'max ms @2k/s': r.latencyAt2kMs.max,
    'peak RSS MiB': r.peakRssMiB,
  }));
  console.table(rows);
}
