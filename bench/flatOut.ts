// One flat-out run of one row and producer shape on a fresh row, in this process; prints one JSON
// line (run by bench/overhead.ts, one process per run):
//   node --conditions=@herald/source --import tsx bench/flatOut.ts <row> <batch|request> [events] [deadline-ms] [--callers=n]
import { ROWS } from './rows.js';
import { round } from './stats.js';
import { callersOption, runShape, SHAPES, type RunResult, type Shape } from './workload.js';

const args = process.argv.slice(2);
const [rowName = '', shapeArg = '', eventsArg = '100000', deadlineArg = '600000'] = args.filter((a) => !a.startsWith('--'));
const callers = callersOption(args.find((a) => a.startsWith('--callers='))?.slice('--callers='.length), '--callers');
const factory = ROWS[rowName];
if (!factory) throw new Error(`unknown row "${rowName}"; known: ${Object.keys(ROWS).join(', ')}`);
if (!(shapeArg in SHAPES)) throw new Error(`unknown shape "${shapeArg}"; known: ${Object.keys(SHAPES).join(', ')}`);
const shape = shapeArg as Shape;
const events = Number(eventsArg);
if (!(Number.isInteger(events) && events > 0)) throw new Error(`events must be a positive integer, got ${eventsArg}`);

// a stalled run must not hang the caller: give up, and let exit hooks stop what the row started
setTimeout(() => {
  process.stderr.write(`${rowName} (${shape}): gave up after ${deadlineArg} ms\n`);
  process.exit(1);
}, Number(deadlineArg)).unref();

const row = await factory();
let cpuBefore = process.cpuUsage();
let result: RunResult;
let cpu: NodeJS.CpuUsage;
try {
  // measured in its steady state: a tenth of the events first (at most 10,000), not counted, so a
  // variant's first compilations and its tracer's or exporter's start-up are not in its figure
  result = await runShape(row, {
    shape,
    events,
    ...(callers === undefined ? {} : { callers }),
    warmupEvents: Math.min(10_000, Math.floor(events / 10)),
    measuring: () => void (cpuBefore = process.cpuUsage()),
  });
  cpu = process.cpuUsage(cpuBefore);
} finally {
  await row.close();
}
process.stdout.write(
  JSON.stringify({
    row: rowName,
    shape,
    ...(callers === undefined ? {} : { callers }),
    events: result.events,
    eventsPerSec: Math.round((result.events / result.elapsedMs) * 1000),
    // the whole process (every thread) during the run
    cpuMicrosPerEvent: round((cpu.user + cpu.system) / result.events, 1),
  }) + '\n',
);
process.exit(0);
