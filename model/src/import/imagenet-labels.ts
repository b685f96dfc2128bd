/** The 1000 ImageNet class names shipped with the model package (see model/data/README.md), read offline. */
import { readFile } from 'node:fs/promises';

// model/data sits beside src/ and dist/, so the same relative path works from the sources and the build.
const FILE = new URL('../../data/imagenet-classes.txt', import.meta.url);

export async function imagenetLabels(): Promise<string[]> {
  const lines = (await readFile(FILE, 'utf8')).split('\n').filter((l) => l.length > 0);
  if (lines.length !== 1000) throw new Error(`${FILE.pathname} has ${lines.length} lines, expected 1000`);
  return lines;
}
