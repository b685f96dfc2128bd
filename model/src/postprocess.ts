/** From raw model outputs to ranked predictions. Pure functions. */
import type { Prediction } from '@icls/lib/job-contract';

/** Numerically stable softmax (subtracts the max before exponentiating). */
export function softmax(logits: ArrayLike<number>): Float32Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]!);
  const out = new Float32Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += out[i] = Math.exp(logits[i]! - max);
  for (let i = 0; i < out.length; i++) out[i] = out[i]! / sum;
  return out;
}

/** The k best classes, best first; ties keep class order. */
export function topK(scores: ArrayLike<number>, labels: string[], k: number): Prediction[] {
  const idx = Array.from({ length: scores.length }, (_, i) => i);
  idx.sort((a, b) => scores[b]! - scores[a]! || a - b);
  return idx.slice(0, Math.min(k, idx.length)).map((i) => ({ label: labels[i] ?? `class_${i}`, score: scores[i]! }));
}
