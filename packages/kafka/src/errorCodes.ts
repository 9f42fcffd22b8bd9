import { ErrorCodes } from '@herald/core';

/** Error codes this adapter adds to Herald's `ErrorCodes` (its errors are `HeraldError`s with these codes). */
export const KafkaErrorCodes = {
  /**
   * An offset reset was asked for a group that still has live members. Not retriable until they leave.
   * @deprecated a core code now (`ErrorCodes.groupActive`, same value), since offset reset is a core port.
   */
  groupActive: ErrorCodes.groupActive,
} as const;
