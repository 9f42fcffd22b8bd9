import type { DeadLetter } from '@herald/core';
import type { CliContext } from '../context.js';
import { untilStopped } from '../io.js';
import { clip, iso, printJson, table } from '../output.js';
import { parseCount } from '../time.js';
import { parseStatuses, PENDING, queryOf, type LetterFilterOptions } from './letterOptions.js';

export interface ListOptions extends LetterFilterOptions {
  readonly cursor?: string;
  readonly limit?: string;
}

const DEFAULT_PAGE = 50;

function letterRow(l: DeadLetter): string[] {
  return [l.id, l.status, l.group, l.handler, l.reason, l.key, String(l.attempts), iso(l.lastFailureAt), clip(l.error.message, 60)];
}

/** `herald dlq list`: one page of dead letters (dead and parked unless `--status` says otherwise), oldest first, with the cursor of the next; it stops at once on Ctrl-C. */
export async function dlqListCommand(ctx: CliContext, options: ListOptions): Promise<void> {
  const store = await ctx.deadLetters();
  const limit = options.limit === undefined ? DEFAULT_PAGE : parseCount(options.limit, '--limit', { min: 1, max: 1000 });
  const request = { ...queryOf(options), status: parseStatuses(options.status, PENDING), limit, ...(options.cursor === undefined ? {} : { cursor: options.cursor }) };
  const page = await untilStopped(ctx.io, store.page(request), 'reading dead letters');
  if (ctx.json) return printJson(ctx.io, page);
  const { stdout } = ctx.io;
  // an empty page that goes on: the store holds letters back behind a transaction still running (PostgreSQL)
  if (page.letters.length === 0 && page.next) stdout.write('no dead letters on this page yet: those after it were added by transactions newer than one still running, and are shown once it ends\n');
  else if (page.letters.length === 0) stdout.write('no dead letters match\n');
  else stdout.write(table(['ID', 'STATUS', 'GROUP', 'HANDLER', 'REASON', 'KEY', 'ATTEMPTS', 'LAST FAILURE', 'ERROR'], page.letters.map(letterRow)));
  if (page.next) stdout.write(`more: herald dlq list --cursor ${page.next} (with the same filters)\n`);
}

/** `herald dlq groups`: dead letters grouped by handler, reason and fingerprint, largest group first (stops at once on Ctrl-C). */
export async function dlqGroupsCommand(ctx: CliContext, options: LetterFilterOptions): Promise<void> {
  const store = await ctx.deadLetters();
  const groups = await untilStopped(ctx.io, store.groups({ ...queryOf(options), status: parseStatuses(options.status, PENDING) }), 'reading dead letters');
  if (ctx.json) return printJson(ctx.io, groups);
  if (groups.length === 0) {
    ctx.io.stdout.write('no dead letters match\n');
    return;
  }
  const rows = groups.map((g) => [String(g.count), g.group, g.handler, g.reason, g.fingerprint || '-', iso(g.firstFailureAt), iso(g.lastFailureAt), `${g.sample.id} ${clip(g.sample.message, 60)}`]);
  ctx.io.stdout.write(table(['COUNT', 'GROUP', 'HANDLER', 'REASON', 'FINGERPRINT', 'FIRST', 'LAST', 'SAMPLE'], rows));
}
