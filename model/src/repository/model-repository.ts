/**
 * The model repository: `models/<name>/` folders holding `model.onnx`, `config.json` and `labels.txt`.
 * Only this module knows that layout; everything else asks it for entries or hands it files to install.
 */
import { copyFile, lstat, mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { whenMissing } from '@icls/lib/fs-errors';
import { makeDirs } from '@icls/lib/make-dirs';
import { join, resolve } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { displayLabel, parseModelConfig, type ModelConfig } from './model-config.ts';
import { isModelName } from '@icls/lib/job-contract';

export const CONFIG_FILE = 'config.json';

export interface ModelEntry {
  name: string;
  dir: string;
  config: ModelConfig;
  /** Display names, one per output class, in output order. */
  labels: string[];
  modelPath: string;
  sizeBytes: number;
}

export class ModelNotFoundError extends Error {
  override name = 'ModelNotFoundError';
}

/**
 * A loader's reason with MODELS_DIR taken out of its paths ("broken/model.onnx is missing"): the reason
 * travels to clients (`/v1/models`, `/readyz`, an UNKNOWN_MODEL answer), where the server's layout is
 * nobody's business and means nothing; the worker's log keeps it whole.
 */
export function reasonForClients(reason: string, modelsDir: string): string {
  const prefixes = [...new Set([resolve(modelsDir), join(modelsDir)])].filter((p) => p !== '/' && p !== '.').map((p) => (p.endsWith('/') ? p : `${p}/`));
  return prefixes.reduce((text, prefix) => text.replaceAll(prefix, ''), reason);
}

/** Reads and validates one model folder. Throws with the folder named when anything is missing or wrong. */
export async function loadModelEntry(modelsDir: string, name: string): Promise<ModelEntry> {
  const dir = join(modelsDir, name);
  let rawConfig: string;
  try {
    rawConfig = await readFile(join(dir, CONFIG_FILE), 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new ModelNotFoundError(`model "${name}" not found: no ${join(dir, CONFIG_FILE)}`);
    // There, but not readable (permissions, a folder in its place): say so, not "not found".
    throw new Error(`model "${name}": cannot read ${join(dir, CONFIG_FILE)} (${(err as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(rawConfig);
  } catch (err) {
    throw new Error(`${join(dir, CONFIG_FILE)} is not valid JSON: ${(err as Error).message}`);
  }
  const config = parseModelConfig(json, join(dir, CONFIG_FILE));
  if (config.name !== name) {
    throw new Error(`${join(dir, CONFIG_FILE)} names the model "${config.name}" but its folder is "${name}"`);
  }
  const modelPath = join(dir, config.file);
  const info = await stat(modelPath).catch(() => {
    throw new Error(`model "${name}": ${modelPath} is missing`);
  });
  const labelLines = (await readFile(join(dir, config.labels.file), 'utf8').catch(() => {
    throw new Error(`model "${name}": labels file ${join(dir, config.labels.file)} is missing`);
  }))
    .split(/\r?\n/)
    .filter((line) => line.trim() !== '');
  const labels = labelLines.map((line) => displayLabel(line, config.labels.display));
  return { name, dir, config, labels, modelPath, sizeBytes: info.size };
}

/** Every model folder, split into the ones that load and the ones that don't (with why). */
export async function listModels(
  modelsDir: string,
): Promise<{ models: ModelEntry[]; broken: { name: string; error: string }[] }> {
  const names = await readdir(modelsDir, { withFileTypes: true }).catch(() => []);
  const models: ModelEntry[] = [];
  const broken: { name: string; error: string }[] = [];
  for (const d of names) {
    if (!d.isDirectory() || d.name.startsWith('.')) continue;
    // lost+found (the root of every ext4 volume), Backup: folders no model can be, unless they hold a
    // config.json (then why they do not load is worth saying). They were each a "broken model", logged
    // at error level by every worker at start.
    if (!isModelName(d.name) && !(await hasConfig(join(modelsDir, d.name)))) continue;
    try {
      models.push(await loadModelEntry(modelsDir, d.name));
    } catch (err) {
      broken.push({ name: d.name, error: (err as Error).message });
    }
  }
  models.sort((a, b) => a.name.localeCompare(b.name));
  return { models, broken };
}

export interface ModelFiles {
  config: ModelConfig;
  /** Label lines as they go into labels.txt. */
  labels: string[];
  /** The ONNX bytes, or the path of a finished file to move in. */
  onnx: Uint8Array | { path: string };
}

export interface InstallOptions {
  /** Aborted (Ctrl-C): nothing is installed, and what was written is removed. */
  signal?: AbortSignal;
}

/**
 * Installs a model folder atomically: everything is written into a hidden temporary folder
 * beside the target and renamed into place, so a reader never sees half a model.
 * An existing folder of that name is replaced, and its version follows `replacementVersion`: answers
 * kept under a version (the result cache, clients comparing `model.version`) are never taken for
 * another model's.
 */
export async function installModel(modelsDir: string, given: ModelFiles, opts: InstallOptions = {}): Promise<string> {
  opts.signal?.throwIfAborted();
  const name = given.config.name;
  parseModelConfig(given.config, `config for ${name}`);
  // Before any work on the new files (a graph of hundreds of MB is digested below).
  await assertReplaceable(join(modelsDir, name));
  // Labels as a loaded model shows them, so the new and the installed one compare alike.
  const shown = given.labels.filter((line) => line.trim() !== '').map((line) => displayLabel(line, given.config.labels.display));
  const version = replacementVersion(await installedIdentity(modelsDir, name), await identityOf(given.config, shown, given.onnx));
  const files = { ...given, config: { ...given.config, version } };
  await makeDirs(modelsDir);
  const tmp = join(modelsDir, `.tmp-${name}-${randomBytes(4).toString('hex')}`);
  await mkdir(tmp);
  try {
    const onnxTarget = join(tmp, files.config.file);
    if (files.onnx instanceof Uint8Array) await writeFile(onnxTarget, files.onnx);
    else await rename(files.onnx.path, onnxTarget).catch(() => copyFile((files.onnx as { path: string }).path, onnxTarget));
    await writeFile(join(tmp, files.config.labels.file), files.labels.join('\n') + '\n');
    await writeFile(join(tmp, CONFIG_FILE), JSON.stringify(files.config, null, 2) + '\n');
    // The last moment a cancel can still leave everything as it was.
    opts.signal?.throwIfAborted();
    const target = join(modelsDir, name);
    const old = join(modelsDir, `.old-${name}-${randomBytes(4).toString('hex')}`);
    const hadOld = await rename(target, old).then(
      () => true,
      () => false,
    );
    await rename(tmp, target);
    if (hadOld) await rm(old, { recursive: true, force: true });
    return target;
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

/**
 * What is at a model's place may be replaced only when it is a model folder (one with config.json,
 * loadable or not) or an empty folder: never a file or someone's other folder that happens to have
 * the name.
 */
export async function assertReplaceable(target: string): Promise<void> {
  const info = await lstat(target).catch(whenMissing(undefined));
  if (!info) return;
  const names = info.isDirectory() ? await readdir(target) : undefined;
  if (names && (names.length === 0 || names.includes(CONFIG_FILE))) return;
  throw new Error(`${target} exists and is not a model folder (no ${CONFIG_FILE}): move it away, or install under another name (--name, where the command has it)`);
}

/** Streams the file through sha256: model files reach hundreds of MB. */
export function sha256OfFile(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    // Chunks of 1 MiB, not the default 64 KiB: a 100 MB graph then takes ~100 trips, not ~1,600.
    createReadStream(path, { highWaterMark: 1 << 20 })
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}

/** What decides a model's answers (its graph, its labels as shown, how it is fed and read), and its version. */
interface ModelIdentity {
  version: string;
  /** The ONNX file's sha256, then the labels and the config's input, preprocessing, output and batch. */
  digest: string;
}

/** The graph: its bytes, its file, or its file's sha256 when the caller read it already. */
type GraphSource = Uint8Array | { path: string } | { sha256: string };

async function identityOf(config: ModelConfig, labels: readonly string[], onnx: GraphSource): Promise<ModelIdentity> {
  const graph = onnx instanceof Uint8Array ? createHash('sha256').update(onnx).digest('hex') : 'sha256' in onnx ? onnx.sha256 : await sha256OfFile(onnx.path);
  const { input, preprocess, output, batch } = config;
  return { version: config.version, digest: `${graph} ${JSON.stringify({ labels, input, preprocess, output, batch, display: config.labels.display })}` };
}

/**
 * What the result cache knows a loaded model by: its version and a digest of what decides its answers
 * (the graph file, labels, preprocessing), e.g. `1+3f2a9c04b1d7`. Files replaced by hand under the same
 * version then get other cache keys, and answers computed by the old files are not kept for the new.
 */
export async function modelBuild(entry: ModelEntry, graphSha256?: string): Promise<string> {
  const { version, digest } = await identityOf(entry.config, entry.labels, graphSha256 === undefined ? { path: entry.modelPath } : { sha256: graphSha256 });
  return `${version}+${createHash('sha256').update(digest).digest('hex').slice(0, 12)}`;
}

/** The identity of the model installed under `name`, if one is there and readable. */
async function installedIdentity(modelsDir: string, name: string): Promise<ModelIdentity | undefined> {
  let entry: ModelEntry;
  try {
    entry = await loadModelEntry(modelsDir, name);
  } catch {
    return undefined; // none, or a broken one: replaced like a missing one, there is no version to follow
  }
  return identityOf(entry.config, entry.labels, { path: entry.modelPath });
}

/**
 * The version a model installed over `old` gets. The same model (same graph, labels, preprocessing)
 * keeps the installed version. One that answers differently gets its own version, unless that repeats
 * the old one or goes back below it (importers always write `1`): then the old one's with its last
 * number raised (`1` → `2`, `1.4` → `1.5`, `beta` → `beta.2`). So a version never names two models.
 */
export function replacementVersion(old: ModelIdentity | undefined, next: ModelIdentity): string {
  if (!old) return next.version;
  if (old.digest === next.digest) return old.version;
  const numbers = /^\d+$/.test(old.version) && /^\d+$/.test(next.version);
  if (old.version !== next.version && !(numbers && Number(next.version) < Number(old.version))) return next.version;
  const m = /^(.*?)(\d+)$/.exec(old.version);
  return m ? `${m[1]}${Number(m[2]) + 1}` : `${old.version}.2`;
}

/** Deletes a model folder; throws ModelNotFoundError when there is none. */
export async function removeModel(modelsDir: string, name: string): Promise<void> {
  const dir = join(modelsDir, name);
  if (!(await hasConfig(dir))) {
    const folder = await stat(dir).then(
      (info) => info.isDirectory(),
      () => false,
    );
    // `list` names a folder without config.json among the broken ones: "not found" contradicted it.
    if (folder) throw new ModelNotFoundError(`${dir} has no ${CONFIG_FILE}: it is not a model folder, so it is not removed; remove it by hand if it is not wanted`);
    throw new ModelNotFoundError(`model "${name}" not found in ${modelsDir}`);
  }
  await rm(dir, { recursive: true, force: true });
}

/** Whether `dir` holds a config.json: a model folder, loadable or not. */
export function hasConfig(dir: string): Promise<boolean> {
  return stat(join(dir, CONFIG_FILE)).then(
    () => true,
    () => false,
  );
}
