import { HeraldError } from '@herald/core';
import type { CliContext } from '../context.js';
import { CliErrors } from '../errors.js';
import { formatAge } from '../time.js';
import { printJson, table } from '../output.js';

/** `herald topics [names...]`: each topic's partitions with their retained offsets and retention; a named topic that does not exist is `nothing-matched`. */
export async function topicsCommand(ctx: CliContext, names: readonly string[]): Promise<void> {
  const inspector = await ctx.inspector();
  const topics = await inspector.describeTopics(names.length > 0 ? names : undefined);
  const missing = names.filter((name) => !topics.some((t) => t.name === name));
  if (missing.length > 0) throw new HeraldError(CliErrors.nothingMatched, `no such topic: ${[...new Set(missing)].join(', ')}`);
  if (ctx.json) return printJson(ctx.io, topics);
  if (topics.length === 0) {
    ctx.io.stdout.write('no topics\n');
    return;
  }
  const rows = topics.flatMap((topic) =>
    topic.partitions.map((p) => [
      topic.name,
      String(p.partition),
      String(p.start),
      String(p.end),
      String(p.end - p.start),
      topic.retentionMs === null ? '-' : formatAge(topic.retentionMs),
      topic.retentionBytes === null ? '-' : `${topic.retentionBytes} B`,
    ]),
  );
  ctx.io.stdout.write(table(['TOPIC', 'PARTITION', 'START', 'END', 'RECORDS', 'RETENTION', 'RETENTION BYTES'], rows));
}
