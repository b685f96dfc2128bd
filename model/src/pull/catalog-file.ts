/**
 * Extra catalog entries from a JSON file (`MODELS_CATALOG_FILE`), e.g. models on a private mirror,
 * checked as strictly as the built-in ones, and merged over them.
 */
import { readFile } from 'node:fs/promises';
import { parseModelConfig } from '../repository/model-config.ts';
import { CATALOG, type CatalogEntry, type RemoteFile } from './catalog.ts';

/** Thrown when an extra catalog file is unreadable or an entry is malformed; names the file and the entry. */
export class CatalogFileError extends Error {
  override name = 'CatalogFileError';
}

/**
 * Reads extra entries (a JSON array of CatalogEntry) from `path`, e.g. for models on a private mirror.
 * Later entries replace built-in ones of the same name.
 */
export async function readCatalogFile(path: string): Promise<CatalogEntry[]> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new CatalogFileError(`cannot read catalog file ${path}: ${(err as Error).message}`);
  }
  if (!Array.isArray(json)) throw new CatalogFileError(`${path} must hold a JSON array of catalog entries`);
  return json.map((raw, i) => checkEntry(raw, `${path} entry ${i}`));
}

/** The built-in catalog merged with the entries of `extraFile`, when given. */
export async function loadCatalog(extraFile?: string): Promise<CatalogEntry[]> {
  const merged = new Map(CATALOG.map((e) => [e.name, e]));
  if (extraFile) for (const e of await readCatalogFile(extraFile)) merged.set(e.name, e);
  return [...merged.values()];
}

function checkEntry(raw: unknown, where: string): CatalogEntry {
  const fail = (problem: string): never => {
    throw new CatalogFileError(`${where}: ${problem}`);
  };
  if (typeof raw !== 'object' || raw === null) fail('must be an object');
  const e = raw as Record<string, unknown>;
  if (typeof e.name !== 'string') fail('"name" must be a string');
  const name = e.name as string;
  const config = parseModelConfig(e.config, `${where} ("${name}") config`);
  if (config.name !== name) fail(`config.name "${config.name}" differs from name "${name}"`);
  const classes = e.classes;
  if (typeof classes !== 'number' || !Number.isInteger(classes) || classes < 1) fail('"classes" must be a positive integer');
  return {
    name,
    title: typeof e.title === 'string' ? e.title : name,
    license: typeof e.license === 'string' ? e.license : 'unknown',
    classes: classes as number,
    model: checkFile(e.model, `${where} ("${name}") model`),
    labels: checkFile(e.labels, `${where} ("${name}") labels`),
    config,
  };
}

function checkFile(raw: unknown, where: string): RemoteFile {
  const fail = (problem: string): never => {
    throw new CatalogFileError(`${where}: ${problem}`);
  };
  if (typeof raw !== 'object' || raw === null) fail('must be an object with url, sizeBytes and sha256');
  const f = raw as Record<string, unknown>;
  if (typeof f.url !== 'string' || !/^https?:\/\//.test(f.url)) fail('"url" must be an http(s) URL');
  if (typeof f.sizeBytes !== 'number' || !Number.isInteger(f.sizeBytes) || f.sizeBytes < 0) {
    fail('"sizeBytes" must be a whole number of bytes');
  }
  if (typeof f.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(f.sha256)) fail('"sha256" must be 64 lower-case hex digits');
  if (f.mirrorPath !== undefined && typeof f.mirrorPath !== 'string') fail('"mirrorPath" must be a string');
  if (f.checksumSource !== undefined && typeof f.checksumSource !== 'string') fail('"checksumSource" must be a string');
  return {
    url: f.url as string,
    mirrorPath: f.mirrorPath as string | undefined,
    sizeBytes: f.sizeBytes as number,
    sha256: f.sha256 as string,
    checksumSource: f.checksumSource as string | undefined,
  };
}
