/**
 * `import`, `generate` and `ensure-default` hand off to the import and generator modules. They are
 * loaded lazily with import(): they pull in heavy code (HDF5, graph builders, the nsfwjs weights) that
 * the other verbs should not pay for.
 */
import { existsSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { stat } from 'node:fs/promises';
import { createFileReadBar, type FileReadBar } from './file-read-bar.ts';
import { checkModelName, isInstalled, onePositional, parseVerbArgs, refuseToReplace, typedPath, UsageError, type CliContext } from './cli-support.ts';
import type { NsfwjsVariant } from '../import/nsfwjs-import.ts';
import type { PreprocessMode } from '../import/preprocess-modes.ts';
import type { FileReadProgress } from '../import/model-import.ts';

const loadNsfwjsImport = () => import('../import/nsfwjs-import.ts');
const loadModelImport = () => import('../import/model-import.ts');
const loadGenerate = () => import('../generate/generate.ts');

/** The choices of a verb for its help text, or why they cannot be listed. */
export async function listChoices(verb: 'import' | 'generate'): Promise<string> {
  try {
    const choices = verb === 'import' ? (await loadNsfwjsImport()).NSFWJS_VARIANTS : (await loadGenerate()).GENERATED_KINDS;
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
    force: { type: 'boolean', short: 'f' },
  });
  const typed = onePositional('import', positionals, 'model file, folder, keras:<architecture> or NSFWJS variant');
  const name = typeof values.name === 'string' ? checkModelName('import', values.name) : undefined;
  const nsfwjs = await loadNsfwjsImport();
  const isVariant = nsfwjs.NSFWJS_VARIANTS.includes(typed as NsfwjsVariant) && !existsSync(typedPath(ctx.env, typed));
  const source = isVariant || typed.startsWith('keras:') ? typed : typedPath(ctx.env, typed);
  for (const option of ['labels', 'weights'] as const) {
    const path = values[option];
    if (typeof path === 'string' && !(option === 'labels' && path === 'imagenet')) values[option] = typedPath(ctx.env, path);
  }
  const fileOptions = ['name', 'labels', 'preprocess', 'weights'].filter((o) => values[o] !== undefined);
  if (isVariant && fileOptions.length > 0) {
    throw new UsageError(`--${fileOptions[0]} applies to file imports, not to the NSFWJS variant "${source}"`, 'import');
  }
  // The files the options name are looked at now (as the importer words it later), not after a conversion
  // that may take minutes. `--labels imagenet` names the bundled classes, not a file.
  for (const option of ['labels', 'weights'] as const) {
    const path = values[option];
    if (typeof path !== 'string' || (option === 'labels' && path === 'imagenet')) continue;
    const info = await stat(path).catch((err: NodeJS.ErrnoException) => err);
    if (info instanceof Error) throw new UsageError(`--${option} ${path}: cannot read it (${info.code ?? info.message})`, 'import');
    if (!info.isFile()) throw new UsageError(`--${option} ${path}: cannot read it (not a file)`, 'import');
  }
  // An ONNX model needs no conversion: `import` looked for Keras or TF.js in it and said only that it was neither.
  if (!isVariant && (extname(source).toLowerCase() === '.onnx' || existsSync(join(source, 'model.onnx')))) {
    // A model folder of MODELS_DIR itself: telling to install it by hand said nothing of what it is.
    const installed = basename(resolve(source));
    if (dirname(resolve(source)) === resolve(ctx.modelsDir) && (await isInstalled(ctx, installed))) {
      throw new UsageError(`${source} is the installed model "${installed}" (a folder of MODELS_DIR): it needs no import; \`npm run models -- info ${installed}\` checks it`, 'import');
    }
    throw new UsageError(
      `${source} is an ONNX model: it needs no import. Install it by hand (README, "Bring your own model"): a folder ${join(ctx.modelsDir, name ?? '<name>')} holding model.onnx, labels.txt and config.json; then \`npm run models -- info <name>\` checks it`,
      'import',
    );
  }
  const mod = isVariant ? undefined : await loadModelImport();
  await refuseToReplace(ctx, 'import', isVariant ? nsfwjs.nsfwjsModelName(source as NsfwjsVariant) : (name ?? mod!.importedModelName(source)), values.force, { renamable: !isVariant });
  const progress = progressReporter(ctx);
  try {
    if (isVariant || !mod) {
      ctx.print(`installed ${await nsfwjs.importNsfwjs(source as NsfwjsVariant, ctx.modelsDir, { onProgress: progress.report, signal: ctx.signal })}`);
      ctx.print(RESTART_HINT);
      return;
    }
    const preprocess = values.preprocess as PreprocessMode | undefined;
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
        signal: ctx.signal,
      })
      .catch((err: unknown) => {
        // The importer's "you asked for something that cannot work" errors get the usage text too.
        if (err instanceof mod.ImportUsageError) throw new UsageError(err.message, 'import');
        throw err;
      });
    ctx.print(`installed ${result}`);
    ctx.print(RESTART_HINT);
  } finally {
    progress.finish();
  }
}

/** Workers load their models at start: a model installed (or replaced) since is served once they restart. */
const RESTART_HINT = 'restart the model workers (or `npm start`) to serve it';

/** `generate <kind> [--name <folder>] [--force]`: builds a generated model and installs it. */
export async function generateVerb(ctx: CliContext, args: string[]): Promise<void> {
  const { values, positionals } = parseVerbArgs('generate', args, { name: { type: 'string' }, force: { type: 'boolean', short: 'f' } });
  const kind = onePositional('generate', positionals, 'kind');
  const name = typeof values.name === 'string' ? checkModelName('generate', values.name) : undefined;
  const mod = await loadGenerate();
  if (!mod.isGeneratedKind(kind)) {
    throw new UsageError(`unknown kind "${kind}"; choose one of: ${mod.GENERATED_KINDS.join(', ')}`, 'generate');
  }
  await refuseToReplace(ctx, 'generate', name ?? kind, values.force);
  const progress = progressReporter(ctx);
  try {
    const result = await mod.generateModel(kind, ctx.modelsDir, { ...(name ? { name } : {}), onProgress: progress.report, signal: ctx.signal });
    ctx.print(`installed ${result}`);
    ctx.print(RESTART_HINT);
  } finally {
    progress.finish();
  }
}

/**
 * Shows whatever the other modules report: text lines as they are, the reading of a local file
 * (`file`, `bytesDone`) as a file-read bar, anything else as JSON.
 */
function progressReporter(ctx: CliContext): { report: (progress: unknown) => void; finish: () => void } {
  let bar: FileReadBar | undefined;
  const endBar = (): void => {
    bar?.finish();
    bar = undefined;
  };
  return {
    report(progress) {
      if (isFileReadProgress(progress)) {
        bar ??= createFileReadBar(ctx.stderr);
        bar.update(progress);
        if (progress.finished) endBar();
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

function isFileReadProgress(value: unknown): value is FileReadProgress {
  const p = value as Partial<Record<keyof FileReadProgress, unknown>> | null;
  return typeof p === 'object' && p !== null && typeof p.file === 'string' && typeof p.bytesDone === 'number';
}

/**
 * `ensure-default`: builds the default model unless MODELS_DIR already holds it. `npm ci` runs it (the
 * root package's `prepare`), so the first `npm start` serves at once; the model image runs it at build time.
 */
export async function ensureDefaultVerb(ctx: CliContext, args: string[]): Promise<void> {
  parseVerbArgs('ensure-default', args, {});
  const { ensureDefaultModel } = await loadNsfwjsImport();
  const name = await ensureDefaultModel(ctx.modelsDir, (msg) => ctx.stderr.write(`${msg}\n`));
  ctx.print(`default model ${name} is ready in ${ctx.modelsDir}`);
}
