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
  /** Marks for any of these event ids, across groups. */
  findHandled(eventIds: readonly string[]): Promise<readonly InboxEntry[]>;
}
