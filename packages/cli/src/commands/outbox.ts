import type { CliContext } from '../context.js';
import { formatAge } from '../time.js';
import { iso, printJson, table } from '../output.js';

/** `herald outbox`: per topic, how many records wait for the relay, and the oldest one's age. */
export async function outboxCommand(ctx: CliContext): Promise<void> {
  const backlog = await (await ctx.outbox()).backlog();
  const now = Date.now();
  if (ctx.json) {
    printJson(
      ctx.io,
      backlog.map((b) => ({ ...b, oldestAgeMs: Math.max(0, now - b.oldestCreatedAt) })),
    );
    return;
  }
  if (backlog.length === 0) {
    ctx.io.stdout.write('outbox empty: everything committed was relayed\n');
    return;
  }
  const rows = backlog.map((b) => [b.topic, String(b.pending), iso(b.oldestCreatedAt), formatAge(now - b.oldestCreatedAt)]);
  ctx.io.stdout.write(table(['TOPIC', 'PENDING', 'OLDEST', 'AGE'], rows));
}
