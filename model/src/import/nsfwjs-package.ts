/**
 * Reads the models bundled in the installed `nsfwjs` npm package. nsfwjs ships each model as
 * browserify modules (`model.min.js` assigns model.json as an object literal, each
 * `group1-shardXofY.min.js` assigns one base64 string); we pull those literals out of the text
 * with a literal-only parser instead of executing the bundles.
 */
import { readFile } from 'node:fs/promises';
import { whenMissing } from '@icls/lib/fs-errors';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { parseJsLiteral, type JsLiteral } from './js-literal.ts';
import type { TfjsModelJson } from '../convert/tfjs-model-json.ts';

/** The model folders under `nsfwjs/dist/models/`. */
export type NsfwjsModelFolder = 'mobilenet_v2' | 'mobilenet_v2_mid' | 'inception_v3';

export interface NsfwjsPackage {
  dir: string;
  version: string;
  license: string;
}

export interface NsfwjsModelFiles {
  modelJson: TfjsModelJson;
  /** Every shard of the manifest, concatenated in manifest order (as nsfwjs's own loader does). */
  weightData: Uint8Array;
  package: NsfwjsPackage;
  modelDir: string;
}

/** Thrown when the package or one of its model files is missing or not in the expected shape. */
export class NsfwjsPackageError extends Error {
  override name = 'NsfwjsPackageError';
}

/**
 * Finds the installed nsfwjs package through node's own resolution (so hoisting and workspaces work).
 * nsfwjs's `exports` map does not expose `package.json`, so we resolve its entry point and walk up
 * to the package.json that names it.
 */
export async function locateNsfwjsPackage(): Promise<NsfwjsPackage> {
  let entry: string;
  try {
    entry = createRequire(import.meta.url).resolve('nsfwjs');
  } catch (err) {
    throw new NsfwjsPackageError(
      // The model image and production installs leave development dependencies out, so "npm install"
      // there would not help: say where the import works.
      `the nsfwjs package is not installed here (${firstLine((err as Error).message)}): it is a development dependency, ` +
        'which production installs and the model image leave out; run the import in a checkout after "npm ci", ' +
        'then copy the model\'s folder into MODELS_DIR',
    );
  }
  for (let dir = dirname(entry); ; dir = dirname(dir)) {
    const pkg = await readPackageJson(join(dir, 'package.json'));
    if (pkg?.name === 'nsfwjs') return { dir, version: pkg.version ?? 'unknown', license: pkg.license ?? 'unknown' };
    if (dirname(dir) === dir) break;
  }
  throw new NsfwjsPackageError(`found the nsfwjs entry point ${entry} but no package.json naming "nsfwjs" above it`);
}

interface PackageJson {
  name?: string;
  version?: string;
  license?: string;
}

/** A package.json's fields, or undefined when the folder has none (nested dist/ folders often do not). */
async function readPackageJson(path: string): Promise<PackageJson | undefined> {
  const text = await readFile(path, 'utf8').catch(whenMissing(undefined));
  return text === undefined ? undefined : (JSON.parse(text) as PackageJson);
}

/** Reads one bundled model: its model.json and all its weight shards. */
export async function readNsfwjsModel(folder: NsfwjsModelFolder): Promise<NsfwjsModelFiles> {
  const pkg = await locateNsfwjsPackage();
  const modelDir = join(pkg.dir, 'dist', 'models', folder);
  const modelJson = asModelJson(await readBundledLiteral(join(modelDir, 'model.min.js')), modelDir);
  const shards: Uint8Array[] = [];
  for (const group of modelJson.weightsManifest) {
    for (const path of group.paths) {
      const file = join(modelDir, `${path}.min.js`);
      const base64 = await readBundledLiteral(file);
      if (typeof base64 !== 'string') throw new NsfwjsPackageError(`${file} does not export a base64 string`);
      shards.push(Buffer.from(base64, 'base64'));
    }
  }
  const weightData = new Uint8Array(shards.reduce((n, s) => n + s.length, 0));
  let offset = 0;
  for (const shard of shards) {
    weightData.set(shard, offset);
    offset += shard.length;
  }
  return { modelJson, weightData, package: pkg, modelDir };
}

/**
 * The value a browserify bundle assigns with `<x>.exports=<literal>`. The UMD wrapper also
 * contains `module.exports=f()`, which is skipped because a call is not a literal start.
 */
export async function readBundledLiteral(file: string): Promise<JsLiteral> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new NsfwjsPackageError(`cannot read ${file}: ${(err as Error).message}; is the nsfwjs install complete?`);
  }
  return extractExportedLiteral(text, file);
}

/** Finds the single `.exports=` assignment of a literal in bundle text and parses it. */
export function extractExportedLiteral(text: string, where: string): JsLiteral {
  const assignments = [...text.matchAll(/\.exports\s*=\s*(?=[{["'])/g)];
  if (assignments.length !== 1) {
    throw new NsfwjsPackageError(
      `${where}: expected exactly one "exports=<literal>" assignment, found ${assignments.length}; ` +
        'the nsfwjs bundle format may have changed',
    );
  }
  const at = assignments[0]!.index! + assignments[0]![0].length;
  try {
    return parseJsLiteral(text, at).value;
  } catch (err) {
    throw new NsfwjsPackageError(`${where}: ${(err as Error).message}`);
  }
}

function asModelJson(value: JsLiteral, where: string): TfjsModelJson {
  const v = value as Partial<TfjsModelJson> | null;
  if (v === null || typeof v !== 'object' || Array.isArray(v) || !v.modelTopology || !Array.isArray(v.weightsManifest)) {
    throw new NsfwjsPackageError(`${where}/model.min.js does not hold a TF.js model.json (modelTopology + weightsManifest)`);
  }
  return v as TfjsModelJson;
}

/**
 * nsfwjs's class names in output order, read from the package's own `NSFW_CLASSES` table so the
 * labels always match the installed models.
 */
export async function readNsfwjsClassNames(pkg: NsfwjsPackage): Promise<string[]> {
  const file = join(pkg.dir, 'dist', 'esm', 'nsfw_classes.js');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new NsfwjsPackageError(`cannot read ${file}: ${(err as Error).message}`);
  }
  const at = /NSFW_CLASSES\s*=\s*(?=\{)/.exec(text);
  if (!at) throw new NsfwjsPackageError(`${file} no longer defines NSFW_CLASSES = {...}; the nsfwjs layout changed`);
  const table = parseJsLiteral(text, at.index + at[0].length).value as Record<string, unknown>;
  const names = Object.keys(table)
    .map(Number)
    .sort((a, b) => a - b)
    .map((i, pos) => {
      const name = table[String(i)];
      if (i !== pos || typeof name !== 'string') {
        throw new NsfwjsPackageError(`${file}: NSFW_CLASSES is not a 0..n-1 table of names`);
      }
      return name;
    });
  return names;
}

const firstLine = (text: string) => text.split('\n', 1)[0]!;
