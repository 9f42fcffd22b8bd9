// What observability costs, measured so that the machine's drift cannot pass for it:
//   node --conditions=@herald/source --import tsx bench/overhead.ts [rounds] [events] [--shape=batch|request] [--variants=a,b] [--callers=n] [--json]
// (`npm run bench -- --overhead [rounds] [--shape request] [--variants embedded+tracing,...] [--callers 128]`.)
// Throughput on two cores moves ±15% from run to run, and a row measured minutes after its base
// meets another machine state, so one run each (the full benchmark's `ratioToBase`) can show a
// variant 10% faster or slower than it is. Here every round runs the base row (`embedded`) and
// each variant (`embedded+metrics`, `+tracing`, `+tracing-10%`, `+tracing-0%`) once flat out, each
// in a fresh process (bench/flatOut.ts, after a warm-up), in an order that rotates from round to
// round, and the base a second time, as a control (`embedded (again)`). A variant's figure is the
// median over rounds of its rate divided by the geometric mean of the base's two rates of the same
// round, per producer shape: one slow or fast base run moves it half as much as it would alone.
// The control's figure is its rate divided by the base's: the method's own spread (what a variant
// that adds nothing scores against one base run), what a variant's figure is read against. The
// target (issue 9): under 10% of throughput, a median of 0.90 or more.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { nodeFlagsOf, ROWS } from './rows.js';
import { median, round } from './stats.js';
import { callersOption, SHAPES as SHAPE_OPTIONS, type Shape } from './workload.js';

const BASE = 'embedded';
/** The base row run a second time in each round, under this name. */
const CONTROL = `${BASE} (again)`;
/** The throughput a variant keeps, at least: under 10% overhead. */
const MIN_RATIO = 0.9;

const args = process.argv.slice(2);
const json = args.includes('--json');
const [roundsArg = '6', eventsArg = '100000'] = args.filter((a) => !a.startsWith('--'));
// one shape only: rounds of the other would take time and tell nothing new
const shapeArg = args.find((a) => a.startsWith('--shape='))?.slice('--shape='.length);
if (shapeArg !== undefined && !(shapeArg in SHAPE_OPTIONS)) throw new Error(`--shape must be one of ${Object.keys(SHAPE_OPTIONS).join(', ')}, got ${JSON.stringify(shapeArg)}`);
const SHAPES = shapeArg === undefined ? (Object.keys(SHAPE_OPTIONS) as Shape[]) : [shapeArg as Shape];
// some variants only (`--variants=embedded+tracing,embedded+tracing-0%`): every one by default
const ALL_VARIANTS = Object.keys(ROWS).filter((row) => row.startsWith(`${BASE}+`));
const variantsArg = args.find((a) => a.startsWith('--variants='))?.slice('--variants='.length).split(',');
const unknown = variantsArg?.filter((v) => !ALL_VARIANTS.includes(v)) ?? [];
if (unknown.length > 0) throw new Error(`unknown variants ${unknown.join(', ')}; known: ${ALL_VARIANTS.join(', ')}`);
const VARIANTS = variantsArg ?? ALL_VARIANTS;
// callers in flight instead of the shape's (workload.ts): many more than the request shape's 32
// measure what each row sustains with the CPU as the limit
const callers = callersOption(args.find((a) => a.startsWith('--callers='))?.slice('--callers='.length), '--callers');
const rounds = Number(roundsArg);
if (!(Number.isInteger(rounds) && rounds >= 2)) throw new Error(`rounds must be an integer of at least 2, got ${roundsArg}`);

interface Run {
  readonly eventsPerSec: number;
  readonly cpuMicrosPerEvent: number;
}

/** One flat-out run of `row` in a fresh process (bench/flatOut.ts). */
function flatOut(name: string, shape: Shape): Run {
  const row = name === CONTROL ? BASE : name;
  const child = spawnSync(process.execPath, [...nodeFlagsOf(row), '--conditions=@herald/source', '--import', 'tsx', fileURLToPath(new URL('./flatOut.ts', import.meta.url)), row, shape, eventsArg, ...(callers === undefined ? [] : [`--callers=${callers}`])], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: 660_000,
    killSignal: 'SIGKILL',
  });
  if (child.status !== 0) throw new Error(`bench: the run of ${row} (${shape}) failed (exit ${child.status ?? child.signal})`);
  return JSON.parse(child.stdout.trim().split('\n').pop()!) as Run;
}

const rows = [BASE, ...VARIANTS, CONTROL];
const runs = new Map<string, Run[]>(); // `${row} ${shape}` → one run per round
for (const shape of SHAPES) {
  for (let r = 0; r < rounds; r++) {
    // rotate: each row takes each place in the order, none always right after a start-up or a heavy row
    const order = rows.map((_, i) => rows[(i + r) % rows.length]!);
    for (const row of order) {
      const run = flatOut(row, shape);
      const key = `${row} ${shape}`;
      runs.set(key, [...(runs.get(key) ?? []), run]);
      if (!json) process.stderr.write(`round ${r + 1}/${rounds} ${shape} ${row}: ${run.eventsPerSec} events/s, ${run.cpuMicrosPerEvent} µs CPU/event\n`);
    }
  }
}

const results = [...VARIANTS, CONTROL].flatMap((variant) =>
  SHAPES.map((shape) => {
    const base = runs.get(`${BASE} ${shape}`)!;
    const again = runs.get(`${CONTROL} ${shape}`)!;
    const own = runs.get(`${variant} ${shape}`)!;
    // what a round's run is divided by: the base's one run for the control, both base runs for a variant
    const reference = (r: number, of: (run: Run) => number) => (variant === CONTROL ? of(base[r]!) : Math.sqrt(of(base[r]!) * of(again[r]!)));
    const ratios = own.map((run, r) => round(run.eventsPerSec / reference(r, (b) => b.eventsPerSec)));
    const cpuRatios = own.map((run, r) => run.cpuMicrosPerEvent / reference(r, (b) => b.cpuMicrosPerEvent));
    const middle = round(median(ratios));
    return {
      variant,
      base: BASE,
      // what each round's ratio divides by
      against: variant === CONTROL ? BASE : `${BASE} and ${CONTROL}`,
      shape,
      callers: callers ?? SHAPE_OPTIONS[shape].callers,
      rounds,
      throughputRatio: { median: middle, min: Math.min(...ratios), max: Math.max(...ratios), rounds: ratios },
      cpuPerEventRatio: round(median(cpuRatios)),
      baseEventsPerSec: Math.round(median(base.map((run) => run.eventsPerSec))),
      // each round's rates, so other estimates can be made from a saved series
      eventsPerSec: own.map((run) => run.eventsPerSec),
      baseRunsEventsPerSec: base.map((run) => run.eventsPerSec),
      // the control has no target: its spread is what the variants' figures are read against
      ...(variant === CONTROL ? { control: true } : { target: MIN_RATIO, met: middle >= MIN_RATIO }),
    };
  }),
);

if (json) {
  for (const result of results) process.stdout.write(JSON.stringify(result) + '\n');
} else {
  console.table(
    results.map((r) => ({
      variant: r.variant,
      shape: r.shape,
      callers: r.callers,
      [`x ${BASE} events/s (median of ${rounds}; a variant against both base runs)`]: `${r.throughputRatio.median} ${'met' in r ? `(>= ${MIN_RATIO}: ${r.met ? 'met' : 'MISSED'})` : "(control, against the base's run: the method's own spread)"}`,
      range: `${r.throughputRatio.min}–${r.throughputRatio.max}`,
      'x CPU per event': r.cpuPerEventRatio,
      [`${BASE} events/s`]: r.baseEventsPerSec,
    })),
  );
}
process.exit(0);
