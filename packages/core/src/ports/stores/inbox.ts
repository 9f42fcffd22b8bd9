/** One inbox mark: `group` has applied the event `eventId`. */
export interface InboxEntry {
  readonly group: string;
  readonly eventId: string;
  readonly handledAt: number;
}

/** The inbox: remembers which events each consumer group has applied. */
export interface InboxStore<Tx> {
  /** Records the mark inside `tx`; returns false (and writes nothing) when it was already there. */
  markHandled(tx: Tx, entry: InboxEntry): Promise<boolean>;
  /**
   * Optional: records many marks inside `tx` at once (one statement where the engine can) and
   * returns the event ids whose marks are new; marks already there are left as they are. Without
   * it, callers fall back to `markHandled` one by one (see `markAllHandled`).
   */
  markHandledMany?(tx: Tx, entries: readonly InboxEntry[]): Promise<ReadonlySet<string>>;
  /** Marks for any of these event ids, across groups. */
  findHandled(eventIds: readonly string[]): Promise<readonly InboxEntry[]>;
}

/** Marks every entry through `markHandledMany` where the inbox has it, else one by one; returns the new ids. */
export async function markAllHandled<Tx>(inbox: InboxStore<Tx>, tx: Tx, entries: readonly InboxEntry[]): Promise<ReadonlySet<string>> {
  if (inbox.markHandledMany) return inbox.markHandledMany(tx, entries);
  const fresh = new Set<string>();
  for (const entry of entries) if (await inbox.markHandled(tx, entry)) fresh.add(entry.eventId);
  return fresh;
}
