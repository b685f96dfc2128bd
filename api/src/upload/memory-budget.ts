/**
 * Bytes of uploads held in memory across all requests of the process. An upload that finds the
 * budget spent streams to a temporary file instead, so many slow or large uploads at once cost disk,
 * not memory.
 */
export class MemoryBudget {
  private used = 0;

  constructor(readonly limit: number) {}

  /** Takes `bytes` if they fit; the caller must `release` what it took. */
  tryTake(bytes: number): boolean {
    if (this.used + bytes > this.limit) return false;
    this.used += bytes;
    return true;
  }

  release(bytes: number): void {
    this.used -= bytes;
  }

  get inUse(): number {
    return this.used;
  }
}
