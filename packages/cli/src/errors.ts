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
  noEngine: {
    code: 'no-engine',
    retriable: false,
    meaning:
      "The engine configuration points at no Herald system: an embedded data directory without log.db or store.db, or with one that is empty, no SQLite database or without Herald's tables; a PostgreSQL database that does not exist, or has no Herald schema (no herald.schema_migrations table). The CLI refuses rather than create an empty engine there, which would answer every command with nothing.",
    action: "Set HERALD_DATA_DIR (relative paths are read from where the command runs) or DATABASE_URL to what the app uses; the app's first start creates the files or migrates the schema.",
  },
  interrupted: {
    code: 'interrupted',
    retriable: false,
    meaning:
      'A command was stopped (Ctrl-C, SIGTERM): while it opened the engine or read (topics, groups, lag, outbox, dlq list, dlq groups), where nothing was changed; at the confirmation prompt of a dlq redrive, dlq discard or replay, where nothing was changed either; or part way through one of those: what it did before stays done, the rest was not touched, and the message says how far it got.',
    action:
      'Run the same command again for the rest: redrive and discard select what is still dead or parked (letters already appended but not yet applied go again, which their inbox absorbs); replay resets every topic again.',
  },
  heldBack: {
    code: 'held-back',
    retriable: true,
    meaning:
      "A dlq redrive or dlq discard could not page through every letter it selects: on PostgreSQL a page of dead letters stops before letters added by transactions newer than the oldest one still running in the cluster (so that a cursor never skips a letter committed late), and a transaction stayed open for the whole wait (2 minutes). Nothing was changed.",
    action:
      'Find the long transaction (SELECT pid, backend_xid, xact_start, state, query FROM pg_stat_activity WHERE backend_xid IS NOT NULL ORDER BY xact_start) and let it end, or end it; then run the command again. Selecting by ids does not page, and is not held back.',
  },
  notSupported: {
    code: 'not-supported',
    retriable: false,
    meaning: 'The engine in use lacks the ability a command needs (inspection, reading records, offset reset, the dead letter browser or the outbox backlog).',
    action: "Use an engine that has it (the embedded engine and Kafka + PostgreSQL have all of them), or the ability's own API.",
  },
});
