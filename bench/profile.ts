// Profiling entry: one flat-out run of the pipeline on one engine, or of the baseline, then where
// the CPU went: this Node process and, for Kafka + PostgreSQL, the PostgreSQL cluster and the mock.
//   node --cpu-prof --cpu-prof-dir=/tmp/prof --conditions=@herald/source --import tsx bench/profile.ts [engine] [events]
// (engine: embedded | kafka-postgres | baseline-kafkajs-pg; the .cpuprofile covers the Node side.)
import { runBaseline } from './baseline.js';
import type { CpuSeconds } from './cpu.js';
import { engines } from './engines.js';
import { runWorkload, type WorkloadOptions, type WorkloadResult } from './workload.js';

const [name = 'embedded', eventsArg = '30000'] = process.argv.slice(2);
const options: WorkloadOptions = { events: Number(eventsArg), keys: 1000, concurrency: 512 };

let before: CpuSeconds | undefined;
let after: CpuSeconds | undefined;
let result: WorkloadResult;
if (name === 'baseline-kafkajs-pg') {
  result = await runBaseline(options, (moment, infra) => {
    if (moment === 'started') before = infra.cpuSeconds();
    else after = infra.cpuSeconds();
  });
} else {
  const factory = engines[name];
  if (!factory) throw new Error(`unknown engine ${name}; known: ${[...Object.keys(engines), 'baseline-kafkajs-pg'].join(', ')}`);
  const engine = await factory();
  before = engine.cpuSeconds?.();
  result = await runWorkload(engine, options);
  after = engine.cpuSeconds?.();
  await engine.cleanup();
}
console.log(`${name}: ${result.events} events, ${Math.round((result.events / result.elapsedMs) * 1000)} events/s`);
if (before && after) {
  const perEvent = (role: keyof CpuSeconds) => `${(((after![role] - before![role]) * 1000) / result.events).toFixed(3)} ms`;
  console.log(`CPU per event: node ${perEvent('node')}, postgres ${perEvent('postgres')}, kafka mock ${perEvent('kafkaMock')}`);
}
