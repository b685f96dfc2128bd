/**
 * Finds the models folder holding the model to bench. When the configured folder lacks it, the
 * project's own models are built into a cache folder under the temp dir (never into ./models,
 * which other people and processes use): generated kinds with `generateModel`, the default
 * nsfw-mobilenetv2 with `ensureDefaultModel` (converted offline from the installed npm package).
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelNotFoundError, loadModelEntry, type ModelEntry } from '@icls/model/repository/model-repository';
import { generateModel, isGeneratedKind } from '@icls/model/generate/generate';
import { PREFERRED_DEFAULT_MODEL } from '@icls/lib/default-model';

/** Where models built by the bench live between runs. */
export const BENCH_MODELS_CACHE = join(tmpdir(), 'icls-bench-models');

export interface ResolvedModel {
  modelsDir: string;
  entry: ModelEntry;
  /** True when the bench built it into the cache. */
  built: boolean;
}

/**
 * Returns the folder and entry of `name`: from `modelsDir` when it is there, else from (or built
 * into) the cache. A model that exists but is broken is reported, never rebuilt over.
 */
export async function resolveModel(modelsDir: string, name: string, log: (msg: string) => void): Promise<ResolvedModel> {
  for (const dir of [modelsDir, BENCH_MODELS_CACHE]) {
    try {
      return { modelsDir: dir, entry: await loadModelEntry(dir, name), built: false };
    } catch (err) {
      if (!(err instanceof ModelNotFoundError)) throw err;
    }
  }
  if (isGeneratedKind(name)) {
    log(`model ${name} is not in ${modelsDir}: generating it into ${BENCH_MODELS_CACHE}`);
    await generateModel(name, BENCH_MODELS_CACHE, { onProgress: log });
  } else if (name === PREFERRED_DEFAULT_MODEL) {
    log(`model ${name} is not in ${modelsDir}: converting it from the nsfwjs package into ${BENCH_MODELS_CACHE}`);
    // Imported lazily: the converter is large and only needed the first time.
    const { ensureDefaultModel } = await import('@icls/model/import/nsfwjs-import');
    await ensureDefaultModel(BENCH_MODELS_CACHE, log);
  } else {
    throw new Error(
      `model "${name}" not found in ${modelsDir} (nor in ${BENCH_MODELS_CACHE}); ` +
        `the bench can build ${PREFERRED_DEFAULT_MODEL} and the generated kinds itself, other models must be installed first`,
    );
  }
  return { modelsDir: BENCH_MODELS_CACHE, entry: await loadModelEntry(BENCH_MODELS_CACHE, name), built: true };
}
