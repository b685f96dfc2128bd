/** Small pure pieces of a download: its rate over a sliding window, and the Content-Range header. */

/** `bytes 100-199/1000` → start 100, total 1000 (total undefined for `*`). */
export function parseContentRange(raw: string | null): { start: number; total: number | undefined } | undefined {
  const match = raw?.match(/^bytes\s+(\d+)-(\d+)\/(\d+|\*)$/i);
  if (!match) return undefined;
  return { start: Number(match[1]), total: match[3] === '*' ? undefined : Number(match[3]) };
}

/** Bytes per second over a sliding window of recent samples. */
export class RateMeter {
  private received = 0;
  private readonly samples: { at: number; bytes: number }[] = [];

  constructor(
    private readonly windowMs = 5000,
    private readonly now: () => number = () => performance.now(),
  ) {
    // A zero sample at the start lets the very first chunk (or a one-chunk file) get a rate.
    this.samples.push({ at: now(), bytes: 0 });
  }

  add(bytes: number): void {
    this.received += bytes;
    const at = this.now();
    this.samples.push({ at, bytes: this.received });
    // samples[0] stays the last one at or before the window's start: the baseline the window is measured from.
    while (this.samples.length > 1 && this.samples[1]!.at <= at - this.windowMs) this.samples.shift();
  }

  bytesPerSecond(): number {
    const first = this.samples[0]!;
    const last = this.samples[this.samples.length - 1]!;
    // Bytes after the baseline arrived inside the window, so they are spread over the window at most.
    const seconds = Math.min(this.windowMs, last.at - first.at) / 1000;
    return seconds > 0 ? (last.bytes - first.bytes) / seconds : 0;
  }
}
