/**
 * `import` and `generate` hand off to modules maintained elsewhere in the project. They are loaded
 * lazily with import(): they pull in heavy code (TensorFlow.js bundles, graph builders) that the other
 * verbs should not pay for, and a checkout without them must still run every other verb.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { basename, relative } from 'node:path';
import { createProgressBar, type ProgressRenderer } from '../pull/progress-bar.ts';
import type { DownloadProgress } from '../pull/download.ts';
import { onePositional, parseVerbArgs, UsageError, type CliContext } from './cli-support.ts';
import { checkModelName } from './models-pull.ts';

/** The contract of model/src/import/nsfwjs-import.ts. */
interface NsfwjsImportModule {
  NSFWJS_VARIANTS: readonly string[];
  importNsfwjs(variant: string, modelsDir: string, opts: { onProgress?: (progress: unknown) => void }): Promise<unknown>;
}

/** The contract of model/src/import/model-import.ts. */
interface ModelImportModule {
  importModel(
    source: string,
    modelsDir: string,
    opts: { name?: string; labels?: string; preprocess?: string; weights?: string; onProgress?: (progress: unknown) => void },
  ): Promise<unknown>;
  PREPROCESS_MODES: readonly string[];
}

/** The contract of model/src/generate/generate.ts. */
interface GenerateModule {
  GENERATED_KINDS: readonly string[];
  generateModel(kind: string, modelsDir: string, opts: { name?: string; onProgress?: (progress: unknown) => void }): Promise<unknown>;
}

const NSFWJS_MODULE = new URL('../import/nsfwjs-import.ts', import.meta.url);
const MODEL_IMPORT_MODULE = new URL('../import/model-import.ts', import.meta.url);
const GENERATE_MODULE = new URL('../generate/generate.ts', import.meta.url);

/**
 * Imports an optional module, checking the exports this verb relies on.
 * A missing file is a clear "not available" error; an error inside the module propagates as it is.
 */
async function loadModule<T>(url: URL, verb: string, exports: (keyof T & string)[]): Promise<T> {
  const path = fileURLToPath(url);
  const shown = relative(process.cwd(), path) || path;
  if (!existsSync(path)) throw new Error(`\`${verb}\` is not available in this checkout: ${shown} is missing`);
  const mod = (await import(url.href)) as Record<string, unknown>;
  const missing = exports.filter((name) => mod[name] === undefined);
  if (missing.length > 0) throw new Error(`${shown} does not export ${missing.join(', ')}; \`${verb}\` cannot run`);
  return mod as T;
}

/** The choices of a verb for its help text, or why they cannot be listed. */
export async function listChoices(verb: 'import' | 'generate'): Promise<string> {
  try {
    const choices =
      verb === 'import'
        ? (await loadModule<NsfwjsImportModule>(NSFWJS_MODULE, verb, ['NSFWJS_VARIANTS'])).NSFWJS_VARIANTS
        : (await loadModule<GenerateModule>(GENERATE_MODULE, verb, ['GENERATED_KINDS'])).GENERATED_KINDS;
    return choices.join(', ');
  } catch (err) {
    return `(cannot list them: ${(err as Error).message})`;
  }
}

/**
 * `import <source>`: a bundled NSFWJS variant, a Keras `.keras`/`.h5` file, a TF.js folder, or
 * `keras:<architecture> --weights <file>`; converts it and installs it.
 */
export async function importVerb(ctx: CliContext, args: string[]): Promise<void> {
  const { values, positionals } = parseVerbArgs('import', args, {
    name: { type: 'string' },
    labels: { type: 'string' },
    preprocess: { type: 'string' },
    weights: { type: 'string' },
  });
  const source = onePositional('import', positionals, 'model file, folder, keras:<architecture> or NSFWJS variant');
  const name = typeof values.name === 'string' ? checkModelName('import', values.name) : undefined;
  const nsfwjs = await loadModule<NsfwjsImportModule>(NSFWJS_MODULE, 'import', ['importNsfwjs', 'NSFWJS_VARIANTS']);
  const isVariant = nsfwjs.NSFWJS_VARIANTS.includes(source) && !existsSync(source);
  const fileOptions = ['name', 'labels', 'preprocess', 'weights'].filter((o) => values[o] !== undefined);
  if (isVariant && fileOptions.length > 0) {
    throw new UsageError(`--${fileOptions[0]} applies to file imports, not to the NSFWJS variant "${source}"`, 'import');
  }
  const progress = progressReporter(ctx, name ?? basename(source));
  try {
    if (isVariant) {
      ctx.print(`installed ${describeResult(await nsfwjs.importNsfwjs(source, ctx.modelsDir, { onProgress: progress.report }), source)}`);
      return;
    }
    const mod = await loadModule<ModelImportModule>(MODEL_IMPORT_MODULE, 'import', ['importModel', 'PREPROCESS_MODES']);
    const preprocess = values.preprocess as string | undefined;
    if (preprocess !== undefined && !mod.PREPROCESS_MODES.includes(preprocess)) {
      throw new UsageError(`--preprocess must be one of ${mod.PREPROCESS_MODES.join(', ')}, got "${preprocess}"`, 'import');
    }
    const result = await mod
      .importModel(source, ctx.modelsDir, {
        name,
        labels: values.labels as string | undefined,
        preprocess,
        weights: values.weights as string | undefined,
        onProgress: progress.report,
      })
      .catch((err: unknown) => {
        // The importer's "you asked for something that cannot work" errors get the usage text too.
        if (err instanceof Error && err.name === 'ImportUsageError') throw new UsageError(err.message, 'import');
        throw err;
      });
    ctx.print(`installed ${describeResult(result, name ?? source)}`);
  } finally {
    progress.finish();
  }
}

/** `generate <kind> [--name <folder>]`: builds a generated model and installs it. */
export async function generateVerb(ctx: CliContext, args: string[]): Promise<void> {
  const { values, positionals } = parseVerbArgs('generate', args, { name: { type: 'string' } });
  const kind = onePositional('generate', positionals, 'kind');
  const name = typeof values.name === 'string' ? checkModelName('generate', values.name) : undefined;
  const mod = await loadModule<GenerateModule>(GENERATE_MODULE, 'generate', ['generateModel', 'GENERATED_KINDS']);
  if (!mod.GENERATED_KINDS.includes(kind)) {
    throw new UsageError(`unknown kind "${kind}"; choose one of: ${mod.GENERATED_KINDS.join(', ')}`, 'generate');
  }
  const progress = progressReporter(ctx, name ?? kind);
  try {
    const result = await mod.generateModel(kind, ctx.modelsDir, { ...(name ? { name } : {}), onProgress: progress.report });
    ctx.print(`installed ${describeResult(result, name ?? kind)}`);
  } finally {
    progress.finish();
  }
}

/**
 * Shows whatever the other modules report: text lines as they are, download-style objects
 * (`bytesDone`/`bytesTotal`) as a progress bar, anything else as JSON.
 */
function progressReporter(ctx: CliContext, label: string): { report: (progress: unknown) => void; finish: () => void } {
  let bar: ProgressRenderer | undefined;
  const endBar = (): void => {
    bar?.finish();
    bar = undefined;
  };
  return {
    report(progress) {
      if (isByteProgress(progress)) {
        bar ??= createProgressBar(label, ctx.stderr);
        const p: DownloadProgress = { url: '', bytesPerSecond: 0, etaSeconds: undefined, attempt: 1, finished: false, bytesTotal: undefined, ...progress };
        bar.update(p);
        if (p.finished) endBar();
        return;
      }
      endBar();
      const text =
        typeof progress === 'string'
          ? progress
          : typeof (progress as { message?: unknown })?.message === 'string'
            ? (progress as { message: string }).message
            : JSON.stringify(progress);
      ctx.stderr.write(`${text}\n`);
    },
    finish: endBar,
  };
}

function isByteProgress(value: unknown): value is Partial<DownloadProgress> & { bytesDone: number } {
  return typeof value === 'object' && value !== null && typeof (value as { bytesDone?: unknown }).bytesDone === 'number';
}

/** The installed folder when the module returns it, else the name. */
function describeResult(result: unknown, fallback: string): string {
  if (typeof result === 'string') return result;
  const dir = (result as { dir?: unknown } | null)?.dir;
  return typeof dir === 'string' ? dir : fallback;
}
