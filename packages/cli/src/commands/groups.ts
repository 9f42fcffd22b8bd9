import { CoreErrors, HeraldError, type GroupDescription } from '@herald/core';
import type { CliContext } from '../context.js';
import { CliErrors } from '../errors.js';
import { printJson, table } from '../output.js';

/**
 * Every group, described (members, partitions, lag), in name order; with `topics`, every partition
 * of those topics too, a partition the group never committed on lagging by all it retains.
 */
async function describeAll(ctx: CliContext, only: readonly string[], topics: readonly string[] = []): Promise<GroupDescription[]> {
  const inspector = await ctx.inspector();
  if (topics.length > 0) {
    const found = new Set((await inspector.describeTopics(topics)).map((t) => t.name));
    const missing = [...new Set(topics.filter((name) => !found.has(name)))];
    if (missing.length > 0) throw new HeraldError(CliErrors.nothingMatched, `no such topic: ${missing.join(', ')}`);
  }
  const names = only.length > 0 ? only : await inspector.listGroups();
  const groups: GroupDescription[] = [];
  for (const name of names) groups.push(await inspector.describeGroup(name, topics.length > 0 ? { topics } : undefined));
  return groups;
}

/** `herald groups`: each consumer group with its live members and total lag. */
export async function groupsCommand(ctx: CliContext): Promise<void> {
  const groups = await describeAll(ctx, []);
  if (ctx.json) return printJson(ctx.io, groups);
  if (groups.length === 0) {
    ctx.io.stdout.write('no consumer groups\n');
    return;
  }
  const rows = groups.map((g) => [g.group, String(g.members), String(new Set(g.partitions.map((p) => p.topic)).size), String(g.totalLag)]);
  ctx.io.stdout.write(table(['GROUP', 'MEMBERS', 'TOPICS', 'LAG'], rows));
}

/**
 * `herald lag [groups...] [--topic t]...`: per group and partition, the committed offset, the end
 * offset and the lag. A group is known by its commits and live members: one stuck before its first
 * commit shows nothing unless `--topic` names the topics it reads (its handlers' topics, which only
 * the app knows), whose every partition is then listed.
 */
export async function lagCommand(ctx: CliContext, only: readonly string[], topics: readonly string[] = []): Promise<void> {
  if (topics.length > 0 && only.length === 0) {
    // every group would be shown lagging by all of a topic, also those that do not read it
    throw new HeraldError(CoreErrors.invalidOptions, 'lag: --topic needs the groups that read it (herald lag <group...> --topic <topic>)');
  }
  const groups = await describeAll(ctx, only, topics);
  const unknown = groups.filter((g) => only.includes(g.group) && g.partitions.length === 0 && g.members === 0);
  if (unknown.length > 0) {
    throw new HeraldError(
      CliErrors.nothingMatched,
      `no such consumer group: ${unknown.map((g) => g.group).join(', ')} (it never committed and has no live member; --topic names the topics a group reads to see its lag before its first commit)`,
    );
  }
  if (ctx.json) return printJson(ctx.io, groups);
  const rows = groups.flatMap((g) =>
    g.partitions.map((p) => [g.group, p.topic, String(p.partition), p.committed === null ? '-' : String(p.committed), String(p.end), String(p.lag)]),
  );
  ctx.io.stdout.write(rows.length === 0 ? 'no committed offsets\n' : table(['GROUP', 'TOPIC', 'PARTITION', 'COMMITTED', 'END', 'LAG'], rows));
}
