/**
 * Local check, not a test: classifies every photo in a folder with every model in a models folder and
 * prints the top-1, to compare with known answers (e.g. ../shared/README.md's table).
 *   node --conditions=source --import tsx scripts/check-real-models.ts <models-dir> <images-dir>
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Classifier } from '@icls/model/classifier';
import { listModels } from '@icls/model/repository/model-repository';

const [modelsDir, imagesDir] = process.argv.slice(2);
if (!modelsDir || !imagesDir) {
  console.error('usage: node --conditions=source --import tsx scripts/check-real-models.ts <models-dir> <images-dir>');
  process.exit(2);
}
const images = (await readdir(imagesDir)).filter((f) => /\.(png|jpe?g|gif|webp)$/i.test(f)).sort();
const { models, broken } = await listModels(modelsDir);
for (const b of broken) console.error(`skipped ${b.name}: ${b.error}`);
console.log('| model | image | top-1 | score |\n|---|---|---|---|');
for (const entry of models) {
  const c = await Classifier.load(entry, { threads: 0, maxPixels: 100_000_000 });
  for (const f of images) {
    const top = (await c.classify(join(imagesDir, f), 1)).predictions[0]!;
    console.log(`| ${entry.name} | ${f} | ${top.label} | ${top.score.toFixed(3)} |`);
  }
  await c.close();
}
