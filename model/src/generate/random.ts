/**
 * Seeded random numbers for generated weights. Generated models must be byte-for-byte
 * reproducible, so nothing here may touch Math.random or the clock.
 */

import { mulberry32, type Rng } from '@icls/lib/seeded-random';

export { mulberry32, type Rng };

/** FNV-1a hash of a string, so each model family gets its own stable seed from its name. */
export function seedFromString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** `count` values uniform in [-bound, bound). */
export function uniform(rng: Rng, count: number, bound: number): Float32Array {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = (rng() * 2 - 1) * bound;
  return out;
}

/**
 * He (Kaiming) uniform initialisation: keeps the activation variance roughly constant through
 * ReLU layers, so a deep random network still produces finite, non-degenerate outputs.
 * `gain` scales the bound (below 1 damps residual branches).
 */
export function heUniform(rng: Rng, count: number, fanIn: number, gain = 1): Float32Array {
  return uniform(rng, count, gain * Math.sqrt(6 / fanIn));
}
