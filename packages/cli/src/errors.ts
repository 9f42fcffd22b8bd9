import { defineErrorCodes } from '@herald/core';

/**
 * The error codes the `herald` command adds to the core's: each maps to a documented exit code
 * (see `EXIT_CODES`); every other error is a core or engine code.
 */
export const { specs: CliErrors, codes: CliErrorCodes } = defineErrorCodes({
  confirmationRequired: {
    code: 'confirmation-required',
    retriable: false,
    meaning: 'A destructive command (dlq redrive, dlq discard, replay) ran without --yes while stdin is not a terminal, so nobody could confirm it.',
    action: 'Check what it would touch (dlq list, lag), then run it again with --yes.',
  },
  declined: {
    code: 'declined',
    retriable: false,
    meaning: 'The operator answered no to the confirmation prompt; nothing was changed.',
    action: 'None.',
  },
  nothingMatched: {
    code: 'nothing-matched',
    retriable: false,
    meaning: 'The dead letters, group or topics a command was pointed at do not exist or match nothing (for instance letters already redriven or discarded).',
    action: 'List what exists (dlq list --status all, groups, topics) and adjust the selection.',
  },
  notSupported: {
    code: 'not-supported',
    retriable: false,
    meaning: 'The engine in use lacks the ability a command needs (inspection, reading records, offset reset, the dead letter browser or the outbox backlog).',
    action: "Use an engine that has it (the embedded engine and Kafka + PostgreSQL have all of them), or the ability's own API.",
  },
});
