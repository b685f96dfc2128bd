/**
 * Bounds the memory a worker's image decoders hold at once. A small file can decode to a huge image:
 * a 0.6 MB interlaced 16-bit PNG of 7000×7000 holds 416 MB while it decodes, and a worker runs
 * several jobs at once (2 × its lanes), so two such uploads took one worker to 1.07 GiB. Each decode
 * is charged an estimate from its header (imageDecodeBytes) before it starts, and waits while the
 * decodes in progress and it would pass the budget. One decode alone always runs, whatever its
 * estimate, so an image within MAX_PIXELS is never refused for it: the peak is the larger of the
 * budget and the largest single image. Large decodes (over an eighth of the budget) wait in arrival
 * order; a small one that fits goes at once, even past large ones waiting: an ordinary photo (a 12 MP
 * JPEG is charged 36 MB) then never waits here behind hostile images for their seconds of decoding, and a
 * large one still gets its turn whenever the small ones in progress leave it room.
 */

/** A decode that gave up waiting (its job's deadline passed): how much it needed and how long it waited. */
export interface GiveUp {
  bytes: number;
  waitedMs: number;
  chargedBytes: number;
  waiting: number;
}

interface Waiter {
  bytes: number;
  grant: () => void;
}

export class DecodeBudget {
  private inUse = 0;
  private running = 0;
  private readonly waiting: Waiter[] = [];

  /** Told whenever the number of decodes waiting changes (the worker's consumer frees their job slots). */
  private readonly listeners: (() => void)[] = [];

  /** `onGiveUp` is told of each decode that gave up waiting. */
  constructor(
    readonly limitBytes: number,
    private readonly events: { onGiveUp?: (event: GiveUp) => void } = {},
  ) {}

  onQueueChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  private queueChanged(): void {
    for (const listener of this.listeners) listener();
  }

  /** Bytes charged to the decodes in progress. */
  get charged(): number {
    return this.inUse;
  }

  /** Decodes waiting for room. */
  get queued(): number {
    return this.waiting.length;
  }

  /**
   * Waits until `bytes` fit, then charges them; the returned function gives them back (call it once the
   * decoded pixels are released). Past `deadline` (epoch ms) it stops waiting and rejects with `timeout()`.
   */
  acquire(bytes: number, deadline: number | undefined, timeout: () => Error): Promise<() => void> {
    return new Promise((resolve, reject) => {
      const since = Date.now();
      let timer: NodeJS.Timeout | undefined;
      const waiter: Waiter = {
        bytes,
        grant: () => {
          clearTimeout(timer);
          this.inUse += bytes;
          this.running++;
          let released = false;
          resolve(() => {
            if (released) return;
            released = true;
            this.inUse -= bytes;
            this.running--;
            this.grantWaiting();
          });
        },
      };
      if (this.fits(bytes) && (this.isSmall(bytes) || this.waiting.length === 0)) return waiter.grant();
      this.waiting.push(waiter);
      this.queueChanged();
      if (deadline !== undefined) {
        timer = setTimeout(() => {
          const i = this.waiting.indexOf(waiter);
          if (i < 0) return;
          this.waiting.splice(i, 1);
          this.queueChanged();
          this.events.onGiveUp?.({ bytes, waitedMs: Date.now() - since, chargedBytes: this.inUse, waiting: this.waiting.length });
          reject(timeout());
          // The head may have been the one that did not fit; those behind it may now.
          this.grantWaiting();
        }, Math.max(0, deadline - Date.now()));
      }
    });
  }

  private fits(bytes: number): boolean {
    return this.running === 0 || this.inUse + bytes <= this.limitBytes;
  }

  private isSmall(bytes: number): boolean {
    return bytes <= this.limitBytes / 8;
  }

  /** Grants, in arrival order, every waiter that fits, except a large one behind a large one that does not. */
  private grantWaiting(): void {
    let largeBlocked = false;
    let granted = false;
    for (const waiter of [...this.waiting]) {
      const small = this.isSmall(waiter.bytes);
      if (!small && largeBlocked) continue;
      if (this.fits(waiter.bytes)) {
        this.waiting.splice(this.waiting.indexOf(waiter), 1);
        waiter.grant();
        granted = true;
      } else if (!small) {
        largeBlocked = true;
      }
    }
    if (granted) this.queueChanged();
  }
}
