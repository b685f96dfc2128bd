/**
 * Reads a TF.js model folder as `tensorflowjs_converter` or `model.save('file://…')` writes it:
 * `model.json` plus the weight shards its manifest lists, relative to the folder.
 */
import { readFile } from 'node:fs/promises';
import { isAbsolute, join, normalize } from 'node:path';
import type { TfjsModelJson } from '../convert/tfjs-model-json.ts';

export class TfjsFolderError extends Error {
  override name = 'TfjsFolderError';
}

export interface TfjsFolder {
  modelJson: TfjsModelJson;
  /** Every shard, concatenated in manifest order. */
  weightData: Uint8Array;
}

export async function readTfjsFolder(dir: string): Promise<TfjsFolder> {
  const jsonPath = join(dir, 'model.json');
  let modelJson: TfjsModelJson;
  try {
    modelJson = JSON.parse(await readFile(jsonPath, 'utf8')) as TfjsModelJson;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new TfjsFolderError(
      code === 'ENOENT'
        ? `${dir} has no model.json: not a TF.js model folder`
        : err instanceof SyntaxError
          ? `${jsonPath} is not valid JSON: ${err.message}`
          : `${jsonPath} cannot be read: ${(err as Error).message}`,
    );
  }
  if (!modelJson || typeof modelJson !== 'object' || !modelJson.modelTopology || !Array.isArray(modelJson.weightsManifest)) {
    throw new TfjsFolderError(`${jsonPath} lacks modelTopology or weightsManifest: not a TF.js model`);
  }
  const parts: Uint8Array[] = [];
  for (const group of modelJson.weightsManifest) {
    for (const shard of group.paths ?? []) {
      // Shards live beside model.json; a manifest must not reach outside the folder.
      if (isAbsolute(shard) || normalize(shard).startsWith('..')) throw new TfjsFolderError(`${jsonPath} names a shard outside its folder: ${shard}`);
      try {
        parts.push(await readFile(join(dir, shard)));
      } catch (err) {
        throw new TfjsFolderError(`${dir}: weight shard ${shard} listed in model.json cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
      }
    }
  }
  return { modelJson, weightData: Buffer.concat(parts) };
}
