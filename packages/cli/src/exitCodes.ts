import { ErrorCodes, isHeraldError } from '@herald/core';
import { CliErrorCodes } from './errors.js';

/** The exit codes of `herald`, documented in the package README. */
export const EXIT_CODES = {
  /** Done. */
  ok: 0,
  /** Failed: the engine was unreachable, a write failed, anything not listed below. */
  failure: 1,
  /**
   * Usage: unknown command or option, a malformed value, conflicting options, a destructive command
   * without `--yes` and no terminal to confirm on, or a configuration that points at no Herald engine.
   */
  usage: 2,
  /** Refused: the consumer group has live members (`replay`). */
  groupActive: 3,
  /** Nothing matched: no such dead letters, group or topics. */
  nothingMatched: 4,
  /** Declined at the confirmation prompt. */
  declined: 5,
  /**
   * Stopped by SIGINT/SIGTERM while the engine opened or a command read, at the prompt, or part way
   * (`dlq redrive`, `dlq discard`, `replay`): 128 + SIGINT, as shells report it.
   */
  interrupted: 130,
} as const;

/** The exit code for an error a command ended with. */
export function exitCodeOf(error: unknown): number {
  if (!isHeraldError(error)) return EXIT_CODES.failure;
  switch (error.code) {
    case ErrorCodes.invalidOptions:
    case CliErrorCodes.confirmationRequired:
    case CliErrorCodes.noEngine:
      return EXIT_CODES.usage;
    case ErrorCodes.groupActive:
      return EXIT_CODES.groupActive;
    case CliErrorCodes.nothingMatched:
      return EXIT_CODES.nothingMatched;
    case CliErrorCodes.declined:
      return EXIT_CODES.declined;
    case CliErrorCodes.interrupted:
      return EXIT_CODES.interrupted;
    default:
      return EXIT_CODES.failure;
  }
}
