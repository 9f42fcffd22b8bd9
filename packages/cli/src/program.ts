import { createRequire } from 'node:module';
import { Command, CommanderError, Option } from 'commander';
import { describeThrown, isHeraldError } from '@herald/core';
import { dlqDiscardCommand, dlqRedriveCommand } from './commands/dlqActions.js';
import { dlqGroupsCommand, dlqListCommand } from './commands/dlq.js';
import { groupsCommand, lagCommand } from './commands/groups.js';
import { outboxCommand } from './commands/outbox.js';
import { replayCommand } from './commands/replay.js';
import { tailCommand } from './commands/tail.js';
import { topicsCommand } from './commands/topics.js';
import { createContext, openFromEnv, type CliContext, type EngineOpener } from './context.js';
import { EXIT_CODES, exitCodeOf } from './exitCodes.js';
import { processIo, type CliIo } from './io.js';
import { printable } from './output.js';
import { parseCount } from './time.js';


/** This package's version (`--version`), from its package.json, beside `src/` and `dist/` alike. */
const VERSION = (createRequire(import.meta.url)('../package.json') as { version: string }).version;
/** Options of {@link main}. */
export interface MainOptions {
  /** Opens the engine commands run against. Default: `engineFromEnv` on `io.env`. */
  readonly open?: EngineOpener;
}

const EXIT_HELP = `
Engine: the app's own configuration, HERALD_DATA_DIR (embedded, default ./.herald) or
HERALD_KAFKA_BROKERS with DATABASE_URL (Kafka + PostgreSQL). HERALD_LOG_LEVEL sets the adapters'
log level on stderr (default error).

Exit codes: ${EXIT_CODES.ok} ok, ${EXIT_CODES.failure} failure, ${EXIT_CODES.usage} usage (also a destructive command without --yes when
stdin is not a terminal, or no Herald engine where the configuration points), ${EXIT_CODES.groupActive} refused:
the group has live members, ${EXIT_CODES.nothingMatched} nothing matched, ${EXIT_CODES.declined} declined at the prompt, ${EXIT_CODES.interrupted} stopped by
Ctrl-C (at the prompt or part way).
`;

const collect = (value: string, previous: string[]) => [...previous, value];

/** The dead letter filters shared by the `dlq` commands. */
function withFilters(command: Command, statusHelp?: string): Command {
  command
    .option('--group <group>', 'consumer group')
    .option('--handler <handler>', 'handler name (group:EventType by default)')
    .option('--topic <topic>', 'topic')
    .option('--key <key>', 'partition key')
    .option('--type <eventType>', 'event type')
    .option('--reason <code>', 'reason: an error code such as handler-failed, schema-violation, parked-behind-key')
    .option('--fingerprint <fingerprint>', 'letters that failed the same way (see dlq groups)')
    .option('--since <time>', 'last failure at or after: ISO date-time or a duration ago (15m, 2h, 7d)')
    .option('--until <time>', 'last failure before: ISO date-time or a duration ago');
  if (statusHelp) command.option('--status <statuses>', statusHelp);
  return command;
}

function build(io: CliIo, run: (work: (ctx: CliContext) => Promise<void>) => Promise<void>): Command {
  const program = new Command('herald')
    .description("Operate a running Herald system: topics, groups and lag, tail, outbox, dead letters, replay.")
    .option('--json', 'print JSON for scripts (tail: one JSON object per line)')
    .version(VERSION, '-V, --version', "print herald's version")
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .addHelpText('after', EXIT_HELP);

  program.command('topics').argument('[topics...]', 'topics to describe (default all)').description('partitions with their start and end offsets, and retention').action((names: string[]) => run((ctx) => topicsCommand(ctx, names)));
  program.command('groups').description('consumer groups with their live members and total lag').action(() => run((ctx) => groupsCommand(ctx)));
  program
    .command('lag')
    .argument('[groups...]', 'groups (default all)')
    .option('--topic <topic>', 'a topic the groups read (repeatable): lists its every partition, also those a group never committed on', collect, [])
    .description('per group and partition: committed offset, end offset, lag')
    .action((names: string[], o: { topic: string[] }) => run((ctx) => lagCommand(ctx, names, o.topic)));
  program.command('outbox').description('records waiting for the relay, per topic, and the oldest one’s age').action(() => run((ctx) => outboxCommand(ctx)));

  program
    .command('tail')
    .argument('<topic>', 'topic to follow')
    .description('print records as they are appended, without joining a consumer group')
    .addOption(new Option('--from <position>', 'where to start').choices(['end', 'beginning']).default('end'))
    .option('--no-follow', 'stop at the end offsets found at start (with --from beginning)')
    .option('--key <key>', 'only records of this partition key')
    .option('--type <eventType>', 'only events of this type')
    .option('--limit <count>', 'stop after this many records')
    .option('--poll-ms <ms>', 'pause between looks for new records', '200')
    .action((topic: string, o: { from: 'end' | 'beginning'; follow: boolean; key?: string; type?: string; limit?: string; pollMs: string }) =>
      run((ctx) =>
        tailCommand(ctx, topic, {
          from: o.from,
          follow: o.follow,
          ...(o.key === undefined ? {} : { key: o.key }),
          ...(o.type === undefined ? {} : { type: o.type }),
          ...(o.limit === undefined ? {} : { limit: parseCount(o.limit, '--limit', { min: 1, max: Number.MAX_SAFE_INTEGER }) }),
          pollMs: parseCount(o.pollMs, '--poll-ms', { min: 1, max: 60_000 }),
        }),
      ),
    );

  const dlq = program.command('dlq').description('dead letters: list, group, redrive, discard');
  withFilters(dlq.command('list').description('a page of dead letters, oldest first'), 'dead, parked, redriven, discarded (comma-separated) or all; default dead,parked')
    .option('--cursor <cursor>', 'the page after the one that printed this cursor')
    .option('--limit <count>', 'letters per page, 1 to 1000', '50')
    .action((o) => run((ctx) => dlqListCommand(ctx, o)));
  withFilters(dlq.command('groups').description('dead letters grouped by handler, reason and fingerprint, with counts'), 'as for list; default dead,parked').action((o) =>
    run((ctx) => dlqGroupsCommand(ctx, o)),
  );
  withFilters(
    dlq.command('redrive').argument('[ids...]', 'dead letter ids').description('send dead letters back through the log to their groups (asks first unless --yes)'),
    'which letters to send; default dead,parked (redriven sends letters again)',
  )
    .option('--all', 'every letter the other options match, with no filter given (not with ids)')
    .option('-y, --yes', 'do not ask for confirmation')
    .action((ids: string[], o) => run((ctx) => dlqRedriveCommand(ctx, ids, o)));
  withFilters(
    dlq.command('discard').argument('[ids...]', 'dead letter ids').description('give up on dead or parked letters (asks first unless --yes)'),
    'dead, parked or both (comma-separated); default dead,parked',
  )
    .option('--all', 'every letter the other options match, with no filter given (not with ids)')
    .option('-y, --yes', 'do not ask for confirmation')
    .action((ids: string[], o) => run((ctx) => dlqDiscardCommand(ctx, ids, o)));

  program
    .command('replay')
    .argument('<group>', 'consumer group')
    .description('move a stopped group’s offsets so it re-delivers from there (asks first unless --yes)')
    .requiredOption('--to <position>', 'earliest, latest, an ISO date-time, a duration ago (15m, 2h, 7d), or an offset (with --partition)')
    .option('--topic <topic>', 'a topic to reset (repeatable; default every topic the group committed on)', collect, [])
    .option('--partition <n>', 'only this partition of the one --topic')
    .option('--new-group', 'the group has not run yet: set where it starts (with --topic)')
    .option('-y, --yes', 'do not ask for confirmation')
    .action((group: string, o: { to: string; topic: string[]; partition?: string; newGroup?: boolean; yes?: boolean }) => run((ctx) => replayCommand(ctx, group, o)));
  return program;
}

/**
 * Runs the `herald` command line (`argv` without node and the script) and resolves with its exit
 * code (see `EXIT_CODES`); it never calls `process.exit`. Errors are printed on stderr as
 * `herald: <message> (<code>)`; the engine is opened on first use and always closed.
 *
 * @example
 * process.exitCode = await main(process.argv.slice(2));
 */
export async function main(argv: readonly string[], io: CliIo = processIo(), options: MainOptions = {}): Promise<number> {
  let ctx: CliContext | undefined;
  const program = build(io, async (work) => {
    ctx ??= createContext(io, { json: program.opts<{ json?: boolean }>().json === true, open: options.open ?? openFromEnv });
    await work(ctx);
  });
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return EXIT_CODES.ok;
  } catch (error) {
    // commander printed its own message (or the help)
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT_CODES.ok : EXIT_CODES.usage;
    const code = isHeraldError(error) ? ` (${error.code})` : '';
    // a message may quote what it refused: an argument, a driver's error naming a stored value
    io.stderr.write(`herald: ${printable(describeThrown(error))}${code}\n`);
    return exitCodeOf(error);
  } finally {
    await ctx?.close().catch((error: unknown) => io.stderr.write(`herald: closing the engine failed: ${printable(describeThrown(error))}\n`));
  }
}
