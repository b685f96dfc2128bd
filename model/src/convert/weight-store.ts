/**
 * Looks up decoded weights by layer and parameter name, and remembers which were used so the
 * converter can report weights no layer asked for (a sign of a mapping mistake).
 */
import { layerError } from './conversion-error.ts';
import type { DecodedWeight } from './tfjs-weights.ts';

export class WeightStore {
  private readonly used = new Set<string>();

  constructor(private readonly weights: Map<string, DecodedWeight>) {}

  /** A weight by exact name (graph models name weights after their Const nodes). */
  byName(name: string): DecodedWeight | undefined {
    const w = this.weights.get(name);
    if (w) this.used.add(name);
    return w;
  }

  /**
   * `<layer>/<param>`, also accepting a `:0` suffix and a unique `…/<layer>/<param>` (weights of
   * nested models may carry their model's scope). Returns undefined when the layer has no such weight.
   */
  find(layer: string, param: string): DecodedWeight | undefined {
    const exact = `${layer}/${param}`;
    for (const name of [exact, `${exact}:0`]) {
      const w = this.byName(name);
      if (w) return w;
    }
    const suffix = `/${exact}`;
    const scoped = [...this.weights.keys()].filter((n) => n.endsWith(suffix) || n.endsWith(`${suffix}:0`));
    return scoped.length === 1 ? this.byName(scoped[0]!) : undefined;
  }

  /** Like {@link find} but required, with an optional shape check. */
  get(layer: string, className: string, param: string, shape?: number[]): DecodedWeight {
    const w = this.find(layer, param);
    if (!w) throw layerError(layer, className, `weight "${layer}/${param}" is not in the weights manifest`);
    if (shape && (shape.length !== w.shape.length || shape.some((d, i) => d !== w.shape[i]))) {
      throw layerError(layer, className, `weight "${w.name}" has shape [${w.shape}] but the layer config implies [${shape}]`);
    }
    return w;
  }

  /** Names of weights nothing asked for. */
  unused(): string[] {
    return [...this.weights.keys()].filter((n) => !this.used.has(n));
  }
}
