import { CoreErrors, ErrorCodes, HeraldError, type StartPosition } from '@herald/core';
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
  /** The group has not run yet (no offset committed): set where it starts. Refused without it, as a mistyped name would be. */
  readonly newGroup?: boolean;
  readonly yes?: boolean;
}

/** `earliest`, `latest`, or a point in time (ISO, or a duration ago). */
export function parseReplayTarget(value: string): StartPosition {
  if (value === 'earliest' || value === 'latest') return value;
  try {
    return { timestamp: parseTime(value, '--to') };
  } catch (error) {
    // a date that is wrong in itself (no such day, no zone) keeps parseTime's reason
    if (/^\d{4}-\d{2}-\d{2}/.test(value)) throw error;
    throw new HeraldError(ErrorCodes.invalidOptions, `--to takes earliest, latest, an ISO date-time or a duration ago (15m, 2h, 7d), got "${value}"`);
  }
}

const label = (to: StartPosition) => (typeof to === 'string' ? to : iso(to.timestamp));

function refused(group: string, members: number, cause?: unknown): HeraldError {
  return new HeraldError(CoreErrors.groupActive, `refused: group ${group} has live members${members > 0 ? ` (${members})` : ''}; stop every member of the group, then replay`, { cause });
}

/**
 * `herald replay <group> --to earliest|latest|<time>`: moves the group's committed offsets
 * (OffsetReset), so its members re-deliver from there when they start again (the inbox keeps
 * effects once). Refused while the group has live members: by the broker (`group-active`), and
 * up front when the inspector already sees them. A topic that does not exist, or a group that never
 * committed an offset (unless `--new-group`), is refused (`nothing-matched`) before anything is
 * written: a mistyped name must not create a topic or a group. Stopped (`io.signal`), it ends
 * between topics with `interrupted`, naming those it reset.
 */
export async function replayCommand(ctx: CliContext, group: string, options: ReplayOptions): Promise<void> {
  const to = parseReplayTarget(options.to);
  const broker = await ctx.resetter();
  const before = await broker.describeGroup(group);
  const topics = options.topic && options.topic.length > 0 ? [...new Set(options.topic)] : [...new Set(before.partitions.map((p) => p.topic))];
  if (topics.length === 0) throw new HeraldError(CliErrors.nothingMatched, `group ${group} has committed on no topic: name the topics to reset with --topic`);
  if (before.members > 0) throw refused(group, before.members);
  const existing = new Set((await broker.describeTopics(topics)).map((t) => t.name));
  const missing = topics.filter((t) => !existing.has(t));
  if (missing.length > 0) throw new HeraldError(CliErrors.nothingMatched, `no such topic: ${missing.join(', ')} (see herald topics)`);
  if (before.partitions.length === 0 && options.newGroup !== true) {
    throw new HeraldError(
      CliErrors.nothingMatched,
      `group ${group} has never committed an offset: no such group (see herald groups), or, to set where a group that has not run yet starts, add --new-group`,
    );
  }
  await confirm(ctx.io, { yes: options.yes === true, action: `reset group ${group} on ${topics.join(', ')} to ${label(to)}` });
  const bar = progress(ctx.io.stderr, { label: 'resetting', total: topics.length });
  for (const [i, topic] of topics.entries()) {
    if (ctx.io.signal.aborted) {
      bar.done();
      const done = i > 0 ? ` (${topics.slice(0, i).join(', ')})` : '';
      throw new HeraldError(CliErrors.interrupted, `stopped after ${i}/${topics.length} topic(s) reset${done}; re-run to reset the rest`);
    }
    try {
      await broker.resetOffsets({ group, topic, to });
    } catch (error) {
      bar.done();
      if ((error as { code?: unknown }).code === CoreErrors.groupActive.code) throw refused(group, 0, error);
      throw error;
    }
    bar.advance(1);
  }
  bar.done();
  const after = await broker.describeGroup(group);
  const partitions = after.partitions.filter((p) => topics.includes(p.topic));
  if (ctx.json) return printJson(ctx.io, { group, to: typeof to === 'string' ? to : { timestamp: to.timestamp }, topics, partitions });
  ctx.io.stdout.write(`group ${group} reset to ${label(to)}; its members read from these offsets when they start:\n`);
  ctx.io.stdout.write(table(['TOPIC', 'PARTITION', 'COMMITTED', 'END', 'TO READ'], partitions.map((p) => [p.topic, String(p.partition), p.committed === null ? '-' : String(p.committed), String(p.end), String(p.lag)])));
}
