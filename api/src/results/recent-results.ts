/**
 * The latest results shown on result pages, by image and model, so that the page a POST redirects to,
 * a reload or a shared link is answered without running the model again. Bounded: the least recently
 * used entry goes first. A page not found here is predicted again (the image is stored; the model
 * answers the same).
 */
import type { Prediction } from '@icls/lib/job-contract';

export interface ShownResult {
  image: string;
  model: string;
  modelVersion: string;
  /** Best first; the page shows the first few and offers all as label suggestions. */
  predictions: Prediction[];
  timings: { totalMs: number; uploadMs?: number; queueMs: number; preprocessMs: number; inferenceMs: number };
  /** Answered from the result cache: no model ran (its timings are 0). */
  cached?: boolean;
}

/** Classes kept per result: the bars show 5, the label suggestions up to this many. */
export const RESULT_CLASSES = 50;
const DEFAULT_ENTRIES = 500;

export class RecentResults {
  private readonly entries = new Map<string, ShownResult>();

  constructor(private readonly maxEntries = DEFAULT_ENTRIES) {}

  get(image: string, model: string): ShownResult | undefined {
    const key = `${image}\n${model}`;
    const hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key);
      this.entries.set(key, hit);
    }
    return hit;
  }

  /** The models with a remembered result for `image` (a scan: at most `maxEntries`, for the rare report that names no model). */
  modelsFor(image: string): string[] {
    const prefix = `${image}\n`;
    const models: string[] = [];
    for (const key of this.entries.keys()) if (key.startsWith(prefix)) models.push(key.slice(prefix.length));
    return models;
  }

  remember(result: ShownResult): void {
    const key = `${result.image}\n${result.model}`;
    this.entries.delete(key);
    this.entries.set(key, { ...result, predictions: result.predictions.slice(0, RESULT_CLASSES) });
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }
}
