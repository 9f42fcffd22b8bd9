import { describeThrown, ErrorCodes, HeraldError, isHeraldError, redriveRecord, uuidv7, type DeadLetter } from '@herald/core';
import { confirm } from '../confirm.js';
import type { CliContext } from '../context.js';
import { CliErrors } from '../errors.js';
import { printJson } from '../output.js';
import { progress } from '../progress.js';
import { planRedrive, selectLetters, unchangedSince, type LetterSelection } from '../redrivePlan.js';
import { describeHeld, keysStillHeld } from './dlqHeld.js';
import { parseStatuses, PENDING, queryOf, type LetterFilterOptions } from './letterOptions.js';

export interface ActionOptions extends LetterFilterOptions {
  readonly all?: boolean;
  readonly yes?: boolean;
}

/** Records appended (and letters marked) per step: one publish and one status update each. */
const REDRIVE_CHUNK = 100;
const DISCARD_CHUNK = 500;

/** The selection an action means; an action on every letter needs `--all`, never an empty filter by accident. */
function selectionOf(ids: readonly string[], options: ActionOptions, statuses: LetterSelection['statuses']): LetterSelection {
  const query = queryOf(options);
  if (ids.length > 0 && options.all) throw new HeraldError(ErrorCodes.invalidOptions, 'give ids or --all, not both: --all selects every letter the filters match');
  if (ids.length === 0 && Object.keys(query).length === 0 && !options.all) {
    throw new HeraldError(ErrorCodes.invalidOptions, 'say which dead letters: give ids, a filter (--group, --fingerprint, --reason...), or --all');
  }
  return { ids, query, statuses };
}

function nothing(statuses: LetterSelection['statuses']): HeraldError {
  return new HeraldError(CliErrors.nothingMatched, `no dead letters match (status ${statuses.join(' or ')}); see herald dlq list --status all`);
}

/** `error` with what was done before it said first, keeping its code (and so the exit code). */
function failedAfter(error: unknown, done: string): Error {
  const message = `${done}: ${describeThrown(error)}`;
  if (!isHeraldError(error)) return new Error(message, { cause: error });
  return new HeraldError(error.code, message, { cause: error, retriable: error.retriable, ...(error.details ? { details: error.details } : {}) });
}

const perGroup = (letters: readonly DeadLetter[]) =>
  [...letters.reduce((m, l) => m.set(l.group, (m.get(l.group) ?? 0) + 1), new Map<string, number>())].map(([group, n]) => `${group}: ${n}`).join(', ');

/**
 * `herald dlq redrive [ids...]`: redrives dead letters through the log. Each letter's original
 * envelope is appended to its topic again with headers naming its group, the letter and this run
 * (`redriveRecord`); the group's members apply it when they read it and then mark the letter
 * `redriven` (a letter that fails again comes back as a new dead letter), every other group
 * ignores it, and its inbox makes a second redrive of an applied event a duplicate. Keys under
 * `park-key` move whole and in order (see `planRedrive`), and stay held until their records are
 * handled: a later record of the key read first parks behind them. A letter already settled
 * (`--status redriven` or `discarded`: the operator means it) is set back to `dead` before its
 * record is appended, since a group skips a record whose letter is no longer waiting for it; one
 * whose record has an open letter again (it failed again, after a replay) is left as it is and not
 * appended (that letter stands for the record), and the output names it.
 * Stopped (`io.signal`), it ends between chunks with `interrupted`, saying how many it appended;
 * a chunk the broker refuses ends it with the broker's error, saying the same.
 */
export async function dlqRedriveCommand(ctx: CliContext, ids: readonly string[], options: ActionOptions): Promise<void> {
  const statuses = parseStatuses(options.status, PENDING);
  const selection = selectionOf(ids, options, statuses);
  const store = await ctx.deadLetters();
  const { broker, description } = await ctx.engine();
  const selected = await selectLetters(store, selection, { signal: ctx.io.signal });
  if (selected.length === 0) throw nothing(statuses);
  const plan = await planRedrive(store, selected);
  const behind = plan.added > 0 ? `, ${plan.added} of them held behind the selected letters of their keys` : '';
  await confirm(ctx.io, { yes: options.yes === true, action: `redrive ${plan.letters.length} dead letter(s) through the log (${perGroup(plan.letters)}${behind})`, engine: description });
  // the prompt may have waited: what changed meanwhile (discarded, redriven by another run) stays as it is
  const letters = await unchangedSince(store, plan.letters);
  const changed = plan.letters.length - letters.length;
  if (letters.length === 0) throw new HeraldError(CliErrors.nothingMatched, `all ${changed} dead letter(s) changed status while waiting for the confirmation; nothing redriven`);

  const run = uuidv7();
  const leftResolved: DeadLetter[] = [];
  const bar = progress(ctx.io.stderr, { label: 'redriving', total: letters.length });
  for (let i = 0; i < letters.length; i += REDRIVE_CHUNK) {
    if (ctx.io.signal.aborted) {
      bar.done();
      throw new HeraldError(CliErrors.interrupted, `stopped after ${i}/${letters.length} dead letter(s) (run ${run}); re-run to send the rest`);
    }
    const chunk = letters.slice(i, i + REDRIVE_CHUNK);
    const settled = chunk.filter((l) => !PENDING.includes(l.status));
    // a settled letter whose record has an open letter again (it failed again after a replay) stays
    // settled: that letter stands for the record, and appending this one too would run it twice
    const notReopened = new Set(settled.length > 0 ? await store.setStatus(settled.map((l) => l.id), 'dead') : []);
    const reopened = settled.filter((l) => !notReopened.has(l.id));
    leftResolved.push(...settled.filter((l) => notReopened.has(l.id)));
    const sent = chunk.filter((l) => !notReopened.has(l.id));
    // the group marks each letter once it handled its record: a run cut short leaves letters as they were
    if (sent.length > 0) {
      await broker.publish(sent.map((l) => redriveRecord(l, run))).catch(async (error: unknown) => {
        // reopened for a record that may not exist: settled again, they hold no key and wait for no
        // record (one that was appended after all is skipped by its group, as before the reopening)
        for (const status of new Set(reopened.map((l) => l.status))) {
          await store.setStatus(reopened.filter((l) => l.status === status).map((l) => l.id), status);
        }
        bar.done();
        throw failedAfter(error, `appended ${i}/${letters.length} dead letter(s) (run ${run}) before failing; re-running is safe, it sends what is still dead or parked`);
      });
    }
    bar.advance(chunk.length);
  }
  bar.done();
  const kept = new Set(leftResolved.map((l) => l.id));
  const redrivenLetters = letters.filter((l) => !kept.has(l.id));
  const resolvedNote = leftResolvedNote(leftResolved);
  if (redrivenLetters.length === 0) throw new HeraldError(CliErrors.nothingMatched, `nothing redriven: ${resolvedNote}`);
  const redriven = redrivenLetters.map((l) => ({ id: l.id, group: l.group, handler: l.handler, topic: l.topic, key: l.key, eventId: l.eventId, eventType: l.eventType, was: l.status }));
  const leftIds = leftResolved.map((l) => l.id);
  if (ctx.json) return printJson(ctx.io, { run, redriven: redrivenLetters.length, added: plan.added, changed, leftResolved: leftIds, letters: redriven });
  const left = changed > 0 ? `; ${changed} left out: they changed status while waiting for the confirmation` : '';
  ctx.io.stdout.write(
    `redriven ${redrivenLetters.length} dead letter(s) (run ${run}; ${perGroup(redrivenLetters)}${left}): appended to their topics for their groups, which apply them as they read them and then mark them redriven; a letter that fails again comes back as a new dead letter\n${resolvedNote ? `${resolvedNote}\n` : ''}`,
  );
}

/** What the operator is told of settled letters a redrive left as they were, their records having an open letter; '' when there are none. */
function leftResolvedNote(letters: readonly DeadLetter[]): string {
  if (letters.length === 0) return '';
  const shown = letters.slice(0, 10).map((l) => `${l.id} (${l.status})`).join(', ');
  const more = letters.length > 10 ? ` and ${letters.length - 10} more` : '';
  return `${letters.length} settled letter(s) left as they were, not appended: their records have an open letter already, which stands for them (redrive that one; herald dlq list --status dead,parked): ${shown}${more}`;
}

/**
 * `herald dlq discard [ids...]`: marks dead or parked letters `discarded` (retention deletes them
 * later). It reports only what it changed: a letter another operator discarded or redrove while
 * the prompt waited is left out and counted, and when that leaves nothing, nothing matched. Unlike
 * a redrive it does not widen to a whole `park-key` key: discarding a key's dead letter leaves the
 * letters parked behind it holding the key, so the prompt and the output name such keys, with how
 * many letters hold each and the redrive that releases it (see `keysStillHeld`).
 * Stopped (`io.signal`), it ends between chunks with `interrupted`, saying how many it discarded.
 */
export async function dlqDiscardCommand(ctx: CliContext, ids: readonly string[], options: ActionOptions): Promise<void> {
  const statuses = parseStatuses(options.status, PENDING);
  const resolved = statuses.filter((s) => !PENDING.includes(s));
  if (resolved.length > 0) throw new HeraldError(ErrorCodes.invalidOptions, `discard takes --status dead, parked or both: a ${resolved.join(' or ')} letter is settled already`);
  const selection = selectionOf(ids, options, statuses);
  const store = await ctx.deadLetters();
  const selected = await selectLetters(store, selection, { signal: ctx.io.signal });
  if (selected.length === 0) throw nothing(statuses);
  const willHold = describeHeld(await keysStillHeld(store, selected), 'will stay');
  const { description } = await ctx.engine();
  await confirm(ctx.io, { yes: options.yes === true, action: `discard ${selected.length} dead letter(s) (${perGroup(selected)})${willHold ? `; ${willHold}` : ''}`, engine: description });
  const letters = await unchangedSince(store, selected);
  if (letters.length === 0) throw new HeraldError(CliErrors.nothingMatched, `all ${selected.length} dead letter(s) changed status while waiting for the confirmation; nothing discarded`);
  const bar = progress(ctx.io.stderr, { label: 'discarding', total: letters.length });
  let discarded = 0;
  for (let i = 0; i < letters.length; i += DISCARD_CHUNK) {
    if (ctx.io.signal.aborted) {
      bar.done();
      throw new HeraldError(CliErrors.interrupted, `stopped after ${i}/${letters.length} dead letter(s) discarded; re-run to discard the rest`);
    }
    const chunk = letters.slice(i, i + DISCARD_CHUNK);
    discarded += await store.discard(chunk.map((l) => l.id));
    bar.advance(chunk.length);
  }
  bar.done();
  // the store counts what it changed; one changed by someone else just before the write is not ours
  if (discarded === 0) throw new HeraldError(CliErrors.nothingMatched, `all ${selected.length} dead letter(s) changed status meanwhile; nothing discarded`);
  const changed = selected.length - discarded;
  const held = await keysStillHeld(store, letters);
  if (ctx.json) return printJson(ctx.io, { discarded, changed, ids: letters.map((l) => l.id), held });
  const left = changed > 0 ? ` (${changed} left out: they changed status while waiting for the confirmation)` : '';
  ctx.io.stdout.write(`discarded ${discarded} dead letter(s)${left}\n${held.length > 0 ? `${describeHeld(held, 'stay')}\n` : ''}`);
}
