/**
 * Makes sure `npm start` has something to serve: when MODELS_DIR holds no model, it builds the
 * default one (the nsfwjs MobileNetV2 converted to ONNX, offline, from the installed npm package).
 * A MODELS_DIR set to a folder that does not exist is refused instead: a mistyped path made the folder,
 * built the default model there and served it, the operator's own models nowhere, with one info line.
 */
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ConfigError, describeConfig, type Config } from '@icls/lib/config';
import type { Logger } from '@icls/lib/logger';
import { listModels } from './repository/model-repository.ts';

export async function ensureModels(config: Config, log: Logger): Promise<void> {
  const defaultDir = describeConfig().find((c) => c.name === 'MODELS_DIR')?.default;
  const exists = await stat(config.MODELS_DIR).then(
    () => true,
    (err: NodeJS.ErrnoException) => err.code !== 'ENOENT',
  );
  if (!exists && defaultDir !== undefined && config.MODELS_DIR !== resolve(defaultDir)) {
    throw new ConfigError(`invalid configuration:\n  MODELS_DIR ${config.MODELS_DIR} does not exist: check the path, or create the folder (npm start then builds the default model in it)`);
  }
  const { models } = await listModels(config.MODELS_DIR);
  if (models.length > 0) return;
  log.info({ dir: config.MODELS_DIR }, 'no model yet: building the default model (first start only)');
  const { ensureDefaultModel } = await import('./import/nsfwjs-import.ts');
  const name = await ensureDefaultModel(config.MODELS_DIR, (msg: string) => log.info(msg));
  log.info({ model: name }, 'default model ready');
}
