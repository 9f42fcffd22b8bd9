/**
 * Tracks the offsets of one partition that were handed to the consumer and which of them have
 * completed, and yields the commit position: one past the highest offset below which everything
 * completed. Offsets must be added in increasing order (as a partition delivers them); they may
 * complete in any order (different keys finish at different times).
 */
export class OffsetTracker {
  private readonly pending: number[] = [];
  private head = 0;
  private readonly done = new Set<number>();
  private next: number | undefined;

  add(offset: number): void {
    this.pending.push(offset);
  }

  complete(offset: number): void {
    if (this.head < this.pending.length && this.pending[this.head] === offset) {
      // the oldest outstanding offset: how a batch handler's deliveries (and most of a key's)
      // complete, in order; no entry in `done`, whose table a long-lived set would otherwise
      // rebuild again and again as entries come and go
      this.head++;
      this.next = offset + 1;
    } else {
      this.done.add(offset);
    }
    while (this.done.size > 0 && this.head < this.pending.length && this.done.has(this.pending[this.head]!)) {
      const finished = this.pending[this.head++]!;
      this.done.delete(finished);
      this.next = finished + 1;
    }
    if (this.head > 1024 && this.head * 2 > this.pending.length) {
      // in place: a splice would also build an array of what it removed
      this.pending.copyWithin(0, this.head);
      this.pending.length -= this.head;
      this.head = 0;
    }
  }

  /** The offset to commit (one past the contiguous completed prefix), or undefined before any completes. */
  get position(): number | undefined {
    return this.next;
  }

  /**
   * Offsets added that the position has not passed yet, completed out of order or not: how far the
   * partition has run ahead of what it can commit, and so how many records its next owner (or a
   * restart) reads again.
   */
  get span(): number {
    return this.pending.length - this.head;
  }

  /** Offsets added and not yet completed. */
  get outstanding(): number {
    // past the head, less those completed out of order (waiting in `done` for the ones before them)
    return this.pending.length - this.head - this.done.size;
  }
}
