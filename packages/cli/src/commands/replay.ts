import { CoreErrors, ErrorCodes, HeraldError, type ResetPosition } from '@herald/core';
import { confirm } from '../confirm.js';
import type { CliContext } from '../context.js';
import { CliErrors } from '../errors.js';
import { iso, printJson, table } from '../output.js';
import { progress } from '../progress.js';
import { parseTime } from '../time.js';

export interface ReplayOptions {
  readonly to: string;
  /** Topics to reset; default every topic the group has committed on. */
  readonly topic?: readonly string[];
  /** Only this partition of the one topic named (`--partition`); needed for an offset. */
  readonly partition?: string;
  /** The group has not run yet (no offset committed): set where it starts. Refused without it, as a mistyped name would be. */
  readonly newGroup?: boolean;
  readonly yes?: boolean;
}

/** `earliest`, `latest`, a point in time (ISO, or a duration ago), or an offset (digits). */
export function parseReplayTarget(value: string): ResetPosition {
  if (value === 'earliest' || value === 'latest') return value;
  if (/^\d+$/.test(value)) {
    const offset = Number(value);
    if (!Number.isSafeInteger(offset)) throw new HeraldError(ErrorCodes.invalidOptions, `--to ${value} is too large for an offset`);
    return { offset };
  }
  let timestamp: number;
  try {
    timestamp = parseTime(value, '--to');
  } catch (error) {
    // a date that is wrong in itself (no such day, no zone) keeps parseTime's reason
    if (/^\d{4}-\d{2}-\d{2}/.test(value)) throw error;
    throw new HeraldError(ErrorCodes.invalidOptions, `--to takes earliest, latest, an ISO date-time, a duration ago (15m, 2h, 7d) or an offset (with --partition), got "${value}"`);
  }
  // Kafka reads the negative times -1 and -2 as latest and earliest: before 1970 is no time to replay from
  if (timestamp < 0) throw new HeraldError(ErrorCodes.invalidOptions, `--to ${value} is before 1970-01-01T00:00:00Z; use earliest`);
  return { timestamp };
}

/** `--partition`: digits, with exactly one `--topic`; an offset needs it. */
function parsePartition(options: ReplayOptions, to: ResetPosition): number | undefined {
  const isOffset = typeof to === 'object' && 'offset' in to;
  if (options.partition === undefined) {
    if (isOffset) throw new HeraldError(ErrorCodes.invalidOptions, `--to ${to.offset} is an offset, which belongs to one partition: add --topic <topic> --partition <n>`);
    return undefined;
  }
  if (!/^\d+$/.test(options.partition) || !Number.isSafeInteger(Number(options.partition))) {
    throw new HeraldError(ErrorCodes.invalidOptions, `--partition takes a partition number (0, 1, ...), got "${options.partition}"`);
  }
  if (new Set(options.topic ?? []).size !== 1) throw new HeraldError(ErrorCodes.invalidOptions, '--partition needs exactly one --topic: the topic whose partition to reset');
  return Number(options.partition);
}

const label = (to: ResetPosition) => (typeof to === 'string' ? to : 'offset' in to ? `offset ${to.offset}` : iso(to.timestamp));

/** `done`: the topics reset before the refusal came (a member started part way). */
function refused(group: string, members: number, cause?: unknown, done = ''): HeraldError {
  const what = `group ${group} has live members${members > 0 ? ` (${members})` : ''}; stop every member of the group, then replay`;
  return new HeraldError(CoreErrors.groupActive, done === '' ? `refused: ${what}` : `refused part way: ${done} already reset, then ${what}`, { cause });
}

/**
 * `herald replay <group> --to earliest|latest|<time>`: moves the group's committed offsets
 * (OffsetReset), so its members re-deliver from there when they start again (the inbox keeps
 * effects once); with `--topic <t> --partition <n>` only that partition, also to an exact offset
 * (`--to 1250`: past a batch no consumer can read, for instance). Refused while the group has live members: by the broker (`group-active`), and
 * up front, before its topics and commits are checked, when the inspector already sees them. A topic that does not exist, or a group that never
 * committed an offset (unless `--new-group`), is refused (`nothing-matched`) before anything is
 * written: a mistyped name must not create a topic or a group. Stopped (`io.signal`), it ends
 * between topics with `interrupted`, naming those it reset.
 */
export async function replayCommand(ctx: CliContext, group: string, options: ReplayOptions): Promise<void> {
  const to = parseReplayTarget(options.to);
  const partition = parsePartition(options, to);
  const broker = await ctx.resetter();
  const before = await broker.describeGroup(group);
  // first: a group whose members joined but have not committed yet has no topics to show, and is no mistyped name
  if (before.members > 0) throw refused(group, before.members);
  const topics = options.topic && options.topic.length > 0 ? [...new Set(options.topic)] : [...new Set(before.partitions.map((p) => p.topic))];
  if (topics.length === 0) {
    throw new HeraldError(
      CliErrors.nothingMatched,
      `group ${group} has never committed an offset: no such group (see herald groups), or, to set where a group that has not run yet starts, name its topics with --topic and add --new-group`,
    );
  }
  const existing = new Set((await broker.describeTopics(topics)).map((t) => t.name));
  const missing = topics.filter((t) => !existing.has(t));
  if (missing.length > 0) throw new HeraldError(CliErrors.nothingMatched, `no such topic: ${missing.join(', ')} (see herald topics)`);
  if (before.partitions.length === 0 && options.newGroup !== true) {
    throw new HeraldError(
      CliErrors.nothingMatched,
      `group ${group} has never committed an offset: no such group (see herald groups), or, to set where a group that has not run yet starts, add --new-group`,
    );
  }
  const where = partition === undefined ? topics.join(', ') : `${topics[0]!} partition ${partition}`;
  await confirm(ctx.io, { yes: options.yes === true, action: `reset group ${group} on ${where} to ${label(to)}`, engine: (await ctx.engine()).description });
  const bar = progress(ctx.io.stderr, { label: 'resetting', total: topics.length });
  for (const [i, topic] of topics.entries()) {
    if (ctx.io.signal.aborted) {
      bar.done();
      const done = i > 0 ? ` (${topics.slice(0, i).join(', ')})` : '';
      throw new HeraldError(CliErrors.interrupted, `stopped after ${i}/${topics.length} topic(s) reset${done}; re-run to reset the rest`);
    }
    try {
      await broker.resetOffsets({ group, topic, to, ...(partition === undefined ? {} : { partition }) });
    } catch (error) {
      bar.done();
      // what was reset stays reset: say so, so that "refused" is not read as "nothing changed"
      const done = i > 0 ? `${topics.slice(0, i).join(', ')} (${i}/${topics.length})` : '';
      if ((error as { code?: unknown }).code === CoreErrors.groupActive.code) throw refused(group, 0, error, done);
      if (done !== '') ctx.io.stderr.write(`herald: ${done} already reset when resetting ${topic} failed; re-run to reset the rest\n`);
      throw error;
    }
    bar.advance(1);
  }
  bar.done();
  const after = await broker.describeGroup(group).catch((error: unknown) => {
    // the reset is done: a stop while reading its result must not say "nothing was changed"
    if ((error as { code?: unknown }).code !== CliErrors.interrupted.code) throw error;
    throw new HeraldError(CliErrors.interrupted, `group ${group} reset on ${where} to ${label(to)}; stopped while reading its new offsets (herald lag ${group} shows them)`, { cause: error });
  });
  const partitions = after.partitions.filter((p) => topics.includes(p.topic) && (partition === undefined || p.partition === partition));
  if (ctx.json) return printJson(ctx.io, { group, to, topics, ...(partition === undefined ? {} : { partition }), partitions });
  ctx.io.stdout.write(`group ${group} reset to ${label(to)}; its members read from these offsets when they start:\n`);
  ctx.io.stdout.write(table(['TOPIC', 'PARTITION', 'COMMITTED', 'END', 'TO READ'], partitions.map((p) => [p.topic, String(p.partition), p.committed === null ? '-' : String(p.committed), String(p.end), String(p.lag)])));
}
