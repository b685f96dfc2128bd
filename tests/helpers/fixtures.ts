/**
 * Test fixtures the project makes itself: generated models in a temporary folder, the CC0 photos
 * committed under tests/fixtures/images, and the expected answer of the tiny model computed here,
 * independently of the service's pipeline.
 */
import { rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { generateModel, type GeneratedKind } from '@icls/model/generate/generate';

export const IMAGES = fileURLToPath(new URL('../fixtures/images/', import.meta.url));
export const image = (name: string) => join(IMAGES, name);
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

const made: string[] = [];
// Each test file runs in its own process: its temporary folders go when it exits, pass or fail.
process.once('exit', () => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** A new empty folder under the system's temporary folder, removed when the test process exits. */
export async function tempDir(label: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `icls-${label}-`));
  made.push(dir);
  return dir;
}

const generated = new Map<string, Promise<string>>();

/** A models folder holding the given generated models (made once per test process). */
export function fixtureModels(kinds: GeneratedKind[]): Promise<string> {
  const key = [...kinds].sort().join(',');
  let dir = generated.get(key);
  if (!dir) {
    dir = (async () => {
      const d = await tempDir('models');
      for (const kind of kinds) await generateModel(kind, d);
      return d;
    })();
    generated.set(key, dir);
  }
  return dir;
}

/**
 * What tiny-rgb must answer for an image: it stretches to 32×32 (bilinear), scales to [0,1], and its
 * logits are 8 × each channel's mean. Computed from sharp's resize and plain arithmetic.
 */
export async function expectedTinyRgb(path: string): Promise<{ label: string; score: number; scores: number[] }> {
  // The workers ignore embedded colour profiles, as Pillow does (rocket.jpg is tagged Adobe RGB).
  const { data } = await sharp(path, { ignoreIcc: true })
    .rotate()
    .flatten({ background: '#ffffff' })
    .toColourspace('srgb')
    .resize(32, 32, { fit: 'fill', kernel: 'linear' })
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const sums = [0, 0, 0];
  for (let i = 0; i < data.length; i++) sums[i % 3]! += data[i]! / 255;
  const logits = sums.map((s) => (8 * s) / (32 * 32));
  const exp = logits.map((l) => Math.exp(l - Math.max(...logits)));
  const total = exp.reduce((a, b) => a + b, 0);
  const scores = exp.map((e) => e / total);
  const best = scores.indexOf(Math.max(...scores));
  return { label: ['red', 'green', 'blue'][best]!, score: Math.round(scores[best]! * 10_000) / 10_000, scores };
}

/** A solid-colour PNG of the given size. */
export function solidPng(rgb: [number, number, number], width = 64, height = 48): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } })
    .png()
    .toBuffer();
}
