/**
 * The statuses that close a letter, as an SQL list. A resolved letter has a `resolved_at` and may be
 * purged after the retention; a `dead` or `parked` one never is.
 */
export const RESOLVED_STATUSES = `('redriven', 'discarded')`;

/** The statuses of a letter still waiting for someone to act, as an SQL list: the ones `discard` closes and that park a key. */
export const OPEN_STATUSES = `('dead', 'parked')`;
