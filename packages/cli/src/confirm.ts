import { HeraldError } from '@herald/core';
import { CliErrors } from './errors.js';
import type { CliIo } from './io.js';

/**
 * Gets the go-ahead for a destructive action: `--yes` gives it; otherwise a person at a terminal is
 * asked (only `y` or `yes` proceeds, `declined` otherwise, `interrupted` on Ctrl-C); with no terminal on stdin the action is
 * refused with `confirmation-required`, never assumed. The question names the engine it acts on
 * (`on embedded (/srv/app/.herald)`, `on kafka (k1:9092) + postgresql (db:5432/app)`): the CLI
 * follows the environment, and production's variables exported in a shell would otherwise be
 * acted on unseen.
 */
export async function confirm(io: CliIo, options: { readonly yes: boolean; readonly action: string; readonly engine: string }): Promise<void> {
  if (options.yes) return;
  const action = `${options.action} on ${options.engine}`;
  if (!io.stdinIsTTY) {
    throw new HeraldError(CliErrors.confirmationRequired, `refusing to ${action} without confirmation: stdin is not a terminal; pass --yes`);
  }
  const answer = await io.ask(`${action.charAt(0).toUpperCase()}${action.slice(1)}? [y/N] `);
  // Ctrl-C at the prompt is an interruption as anywhere else (exit 130), not a "no"
  if (io.signal.aborted) throw new HeraldError(CliErrors.interrupted, 'interrupted at the confirmation prompt: nothing was changed');
  if (!/^y(es)?$/i.test(answer.trim())) throw new HeraldError(CliErrors.declined, 'declined: nothing was changed');
}
