/** Error codes this adapter adds to Herald's `ErrorCodes` (its errors are `HeraldError`s with these codes). */
export const KafkaErrorCodes = {
  /** An offset reset was asked for a group that still has live members. Not retriable until they leave. */
  groupActive: 'group-active',
} as const;
