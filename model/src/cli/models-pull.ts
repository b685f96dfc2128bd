/**
 * The catalog verbs: `catalog` (also `pull --list`) shows what can be fetched, `pull <name>` fetches,
 * verifies and installs it with a progress bar on stderr.
 */
import { join } from 'node:path';
import { redactUrl } from '@icls/lib/redact-url';
import { loadModelEntry } from '../repository/model-repository.ts';
import { findCatalogEntry, UnknownCatalogEntryError, type CatalogEntry } from '../pull/catalog.ts';
import { loadCatalog } from '../pull/catalog-file.ts';
import { pullModel, type PullProgress } from '../pull/pull.ts';
import { createProgressBar, type ProgressRenderer } from '../pull/progress-bar.ts';
import { formatBytes } from '../pull/format-units.ts';
import { describeInput } from './models-list.ts';
import { checkModelName, httpUrlFromEnv, isInstalled, oneLine, onePositional, parseVerbArgs, renderTable, UsageError, type CliContext } from './cli-support.ts';

function catalogFor(ctx: CliContext): Promise<CatalogEntry[]> {
  return loadCatalog(ctx.env.MODELS_CATALOG_FILE || undefined);
}


/** `catalog` / `pull --list`: every entry with its size, input, licence and checksum prefix. */
export async function catalogVerb(ctx: CliContext, args: string[]): Promise<void> {
  const { positionals } = parseVerbArgs('catalog', args, {});
  if (positionals.length > 0) throw new UsageError(`catalog takes no arguments, got: ${positionals.join(' ')}`, 'catalog');
  // Checked before the table: a refused MODELS_MIRROR_URL came after it, easy to miss above the usage text.
  const mirror = httpUrlFromEnv(ctx.env, 'MODELS_MIRROR_URL');
  const catalog = await catalogFor(ctx);
  const rows = await Promise.all(
    catalog.map(async (e) => [
      e.name,
      formatBytes(e.model.sizeBytes),
      describeInput(e.config.input),
      String(e.classes),
      e.license,
      e.model.sha256.slice(0, 12),
      (await isInstalled(ctx, e.name)) ? 'yes' : 'no',
      e.title,
    ]),
  );
  for (const line of renderTable(['name', 'size', 'input', 'classes', 'license', 'sha256', 'installed', 'description'], rows)) {
    ctx.print(line);
  }
  const extra = ctx.env.MODELS_CATALOG_FILE;
  const zoo = 'the ONNX Model Zoo (github.com/onnx/models)';
  const source = mirror ? `the mirror ${redactUrl(mirror)}` : extra ? `each entry's own URL (the built-in ones: ${zoo}; the others from MODELS_CATALOG_FILE ${extra})` : zoo;
  ctx.print('');
  ctx.print(`source: ${source}; install one with \`npm run models -- pull <name>\``);
}

/** The catalog's entry; a name it lacks is a wrong command line (exit 2 with the usage), as `generate`'s unknown kind is. */
function entryNamed(catalog: readonly CatalogEntry[], name: string): CatalogEntry {
  try {
    return findCatalogEntry(catalog, name);
  } catch (err) {
    throw err instanceof UnknownCatalogEntryError ? new UsageError(err.message, 'pull') : err;
  }
}

/** `pull <name> [--force]`, or `pull --list`. */
export async function pullVerb(ctx: CliContext, args: string[]): Promise<void> {
  const { values, positionals } = parseVerbArgs('pull', args, { list: { type: 'boolean' }, force: { type: 'boolean', short: 'f' } });
  if (values.list) {
    if (positionals.length > 0) throw new UsageError('pull --list takes no model name', 'pull');
    await catalogVerb(ctx, []);
    return;
  }
  const name = checkModelName('pull', onePositional('pull', positionals, 'model name (see `catalog`)'));
  const mirror = httpUrlFromEnv(ctx.env, 'MODELS_MIRROR_URL');
  const catalog = await catalogFor(ctx);
  const entry = entryNamed(catalog, name);
  if (!values.force && (await isInstalled(ctx, name))) {
    const problem = await loadModelEntry(ctx.modelsDir, name).then(
      () => undefined,
      (err: Error) => err.message,
    );
    if (problem === undefined) {
      ctx.print(`${name} is already installed in ${join(ctx.modelsDir, name)}; use --force to download it again`);
      return;
    }
    ctx.stderr.write(`replacing the broken folder ${join(ctx.modelsDir, name)} (${oneLine(problem)})\n`);
  }
  ctx.stderr.write(`pulling ${name} (${formatBytes(entry.model.sizeBytes)}) from ${mirror ? redactUrl(mirror) : new URL(entry.model.url).host}\n`);
  const bars: Record<PullProgress['file'], ProgressRenderer> = {
    labels: createProgressBar(`${name} labels`, ctx.stderr),
    model: createProgressBar(`${name} model `, ctx.stderr),
  };
  try {
    const dir = await pullModel(name, ctx.modelsDir, {
      catalog,
      baseUrl: mirror,
      signal: ctx.signal,
      onProgress: (p) => {
        bars[p.file].update(p);
        if (p.finished) bars[p.file].finish();
      },
      onRetry: (r) => {
        bars[r.file].finish();
        ctx.stderr.write(`${name} ${r.file}: attempt ${r.failed} of ${r.maxAttempts} failed (${r.reason}); trying again in ${(r.delayMs / 1000).toFixed(1)} s\n`);
      },
    });
    ctx.print(`installed ${name} in ${dir} (size and sha256 ${entry.model.sha256.slice(0, 12)}… verified)`);
    ctx.print('restart the model workers (or `npm start`) to serve it');
  } finally {
    // Ends a half-drawn bar so an error message starts on its own line.
    for (const bar of Object.values(bars)) bar.finish();
  }
}
