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
    this.done.add(offset);
    while (this.head < this.pending.length && this.done.has(this.pending[this.head]!)) {
      const finished = this.pending[this.head++]!;
      this.done.delete(finished);
      this.next = finished + 1;
    }
    if (this.head > 1024 && this.head * 2 > this.pending.length) {
      this.pending.splice(0, this.head);
      this.head = 0;
    }
  }

  /** The offset to commit (one past the contiguous completed prefix), or undefined before any completes. */
  get position(): number | undefined {
    return this.next;
  }

  /** Offsets added and not yet completed. */
  get outstanding(): number {
    return this.pending.length - this.head;
  }
}
