// Profiling entry: one flat-out run of one row and shape, then where the CPU went: this Node
// process and, for Kafka + PostgreSQL, the PostgreSQL cluster and the mock.
//   node --cpu-prof --cpu-prof-dir=/tmp/prof --conditions=@herald/source --import tsx bench/profile.ts [row] [events] [shape]
// (HERALD_BENCH_PG_STATEMENTS=10 adds the Kafka + PostgreSQL rows' ten costliest statements, from pg_stat_statements.)
// (HERALD_BENCH_CPUPROFILE=/tmp/run.cpuprofile profiles the main thread during the measured run only,
// with native calls (SQLite's statements) named: --cpu-prof's profiles also hold the start-up,
// whose module loading, through tsx's loader thread, looks like per-event work in a short run.)
// (HERALD_BENCH_HEAPPROFILE=/tmp/run.heapprofile samples the main thread's allocations during the
// measured run, by stack; with HERALD_BENCH_HEAPPROFILE_SURVIVORS=1 only what outlived a scavenge.)
// (HERALD_BENCH_THREADS=1 prints every thread's CPU during the measured run, per event.)
// (HERALD_BENCH_RATE=5000 sends at that rate instead of flat out: CPU per event under the same
// offered load for every row, without the feedback of a flat-out run, where a slower row commits
// in larger groups. HERALD_BENCH_WARMUP=n sends n events first, not measured. HERALD_BENCH_CALLERS=n
// sends flat out with n callers in flight instead of the shape's.)
// (row: see bench/rows.ts; shape: batch | request; the .cpuprofile covers the Node side.)
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import type { CpuSeconds } from './cpu.js';
import { ROWS } from './rows.js';
import { callersOption, runShape, type Shape } from './workload.js';

const [name = 'embedded', eventsArg = '30000', shapeArg = 'batch'] = process.argv.slice(2);
const factory = ROWS[name];
if (!factory) throw new Error(`unknown row ${name}; known: ${Object.keys(ROWS).join(', ')}`);
const rate = process.env['HERALD_BENCH_RATE'] ? Number(process.env['HERALD_BENCH_RATE']) : undefined;
const warmup = Number(process.env['HERALD_BENCH_WARMUP'] ?? 0);
if (rate !== undefined && !(Number.isFinite(rate) && rate > 0)) throw new Error(`HERALD_BENCH_RATE must be a positive number of events a second, got ${process.env['HERALD_BENCH_RATE']}`);
if (!(Number.isInteger(warmup) && warmup >= 0)) throw new Error(`HERALD_BENCH_WARMUP must be a count of events, got ${process.env['HERALD_BENCH_WARMUP']}`);
const callers = callersOption(process.env['HERALD_BENCH_CALLERS'] || undefined, 'HERALD_BENCH_CALLERS');
const row = await factory();
// the main thread alone (/proc), next to the whole process: what a single event loop carries
const mainThread = () => threadStat(String(process.pid)).ms / 1000;
// nanoseconds on the CPU and waiting for one (runnable, another thread or process running)
const schedStat = () => readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ').map(Number);
// bytes this process handed to the kernel (every thread's: WAL frames, checkpoints, fsyncs' data)
const ioCounters = () => Object.fromEntries(readFileSync('/proc/self/io', 'utf8').trim().split('\n').map((line) => [line.split(':')[0]!, Number(line.split(':')[1])]));
/** Every counter the report compares with the same counters after the run. */
const snapshot = () => ({
  io: ioCounters(),
  sched: schedStat(),
  main: mainThread(),
  loop: performance.eventLoopUtilization(),
  cpu: row.cpuSeconds?.(),
  threads: process.env['HERALD_BENCH_THREADS'] ? threadTimes() : undefined,
});
// taken, and the profilers started, once the warm-up's events were applied (an object: the type
// checker does not see a callback's assignments to a `let`)
const measured: { start?: ReturnType<typeof snapshot>; stopProfile?: (file: string) => Promise<void>; stopSampling?: (file: string) => Promise<void> } = {};
const result = await runShape(row, {
  shape: shapeArg as Shape,
  events: Number(eventsArg),
  ...(rate === undefined ? {} : { ratePerSec: rate }),
  ...(callers === undefined ? {} : { callers }),
  warmupEvents: warmup,
  async measuring() {
    measured.start = snapshot();
    if (process.env['HERALD_BENCH_CPUPROFILE']) measured.stopProfile = await startProfile();
    if (process.env['HERALD_BENCH_HEAPPROFILE']) measured.stopSampling = await startHeapSampling(process.env['HERALD_BENCH_HEAPPROFILE_SURVIVORS'] === '1');
  },
});
await measured.stopProfile?.(process.env['HERALD_BENCH_CPUPROFILE']!);
await measured.stopSampling?.(process.env['HERALD_BENCH_HEAPPROFILE']!);
const { io: ioBefore, sched: schedBefore, main: mainBefore, loop: loopBefore, cpu: before, threads: threadsBefore } = measured.start!;
const after = row.cpuSeconds?.();
const mainAfter = mainThread();
const schedAfter = schedStat();
const loop = performance.eventLoopUtilization(loopBefore);
const ioAfter = ioCounters();
// before the row closes: its worker threads end with it
const threadsAfter = threadsBefore ? threadTimes() : undefined;
await row.close();
console.log(`${name} (${shapeArg}): ${result.events} events, ${Math.round((result.events / result.elapsedMs) * 1000)} events/s`);
// busy but not on the CPU: the main thread waited inside a call (a lock's busy handler, a synchronous read)
const wallSeconds = result.elapsedMs / 1000;
const share = (ns: number) => `${((ns / 1e9 / wallSeconds) * 100).toFixed(0)}%`;
console.log(
  `main thread: event loop busy ${(loop.utilization * 100).toFixed(0)}%, on the CPU ${share(schedAfter[0]! - schedBefore[0]!)}, ` +
    `runnable waiting for a CPU ${share(schedAfter[1]! - schedBefore[1]!)} (the rest of the busy time: blocked inside a call)`,
);
const ioPerEvent = (name: string) => (ioAfter[name]! - ioBefore[name]!) / result.events;
console.log(`I/O per event (this process): ${ioPerEvent('wchar').toFixed(0)} bytes written in ${ioPerEvent('syscw').toFixed(2)} write calls, ${ioPerEvent('rchar').toFixed(0)} bytes read`);
if (before && after) {
  const perEvent = (role: keyof CpuSeconds) => `${(((after[role] - before[role]) * 1e6) / result.events).toFixed(1)} µs`;
  console.log(`CPU per event: node ${perEvent('node')} (main thread ${(((mainAfter - mainBefore) * 1e6) / result.events).toFixed(1)} µs), postgres ${perEvent('postgres')}, kafka mock ${perEvent('kafkaMock')}`);
}
if (threadsBefore && threadsAfter) {
  // each thread's CPU during the measured run, per event: which thread carries what. Every thread
  // is named "node": the main one is marked; the embedded engine's relay thread is the one with
  // its own collections (its profile under --cpu-prof), V8's helpers the four that start with the
  // process (the parallel and concurrent parts of garbage collection)
  for (const [tid, { name, ms }] of threadsAfter) {
    const spent = ms - (threadsBefore.get(tid)?.ms ?? 0);
    if (spent >= 10) console.log(`  thread ${tid}${tid === String(process.pid) ? ' (main)' : ''} ${name}: ${spent} ms, ${((spent * 1000) / result.events).toFixed(1)} µs/event`);
  }
}
process.exit(0);

/** Starts V8's sampling profiler on this thread; the function returned stops it and writes the profile. */
async function startProfile(): Promise<(path: string) => Promise<void>> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
  return async (path) => {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(path, JSON.stringify(profile));
    session.disconnect();
  };
}

/**
 * Starts V8's sampling heap profiler on this thread; the function returned stops it and writes a
 * .heapprofile (Chrome DevTools' Memory tab reads it). It counts every allocation, also of objects
 * the collector already freed (allocation is what costs, not what stays) — or, with
 * `survivorsOnly`, the objects that outlived a scavenge: what the young generation copied and
 * promoted, the work of the collector's threads.
 */
async function startHeapSampling(survivorsOnly: boolean): Promise<(path: string) => Promise<void>> {
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.enable');
  await session.post('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: !survivorsOnly });
  return async (path) => {
    const { profile } = await session.post('HeapProfiler.stopSampling');
    writeFileSync(path, JSON.stringify(profile));
    session.disconnect();
  };
}

/** A thread's name and CPU time (ms, user + system), from /proc (clock ticks of 10 ms). */
function threadStat(tid: string): { name: string; ms: number } {
  const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
  return { name: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), ms: (Number(f[11]) + Number(f[12])) * 10 };
}

/** {@link threadStat} of every thread of this process, by thread id. */
function threadTimes(): Map<string, { name: string; ms: number }> {
  const times = new Map<string, { name: string; ms: number }>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      times.set(tid, threadStat(tid));
    } catch {
      // the thread exited
    }
  }
  return times;
}
