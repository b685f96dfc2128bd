/**
 * Makes sure `npm start` has something to serve: when MODELS_DIR holds no model, it builds the
 * default one (the nsfwjs MobileNetV2 converted to ONNX, offline, from the installed npm package).
 */
import type { Config } from '@icls/lib/config';
import type { Logger } from '@icls/lib/logger';
import { listModels } from './repository/model-repository.ts';

export async function ensureModels(config: Config, log: Logger): Promise<void> {
  const { models } = await listModels(config.MODELS_DIR);
  if (models.length > 0) return;
  log.info({ dir: config.MODELS_DIR }, 'no model yet: building the default model (first start only)');
  const { ensureDefaultModel } = await import('./import/nsfwjs-import.ts');
  const name = await ensureDefaultModel(config.MODELS_DIR, (msg: string) => log.info(msg));
  log.info({ model: name }, 'default model ready');
}
