/**
 * The `models` command: `npm run models -- <verb>` (or `node --import tsx model/src/cli/models-cli.ts <verb>`).
 * Manages the model repository: list, inspect, pull from the catalog, remove, import, generate.
 *
 * Exit codes: 0 done, 1 the verb failed (one line on stderr), 2 the command line is wrong (with usage),
 * 130 cancelled with Ctrl-C. Stack traces only with DEBUG=1.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { redactUrl } from '@icls/lib/redact-url';
import { ModelNotFoundError, removeModel } from '../repository/model-repository.ts';
import { DownloadCancelledError, NetworkError } from '../pull/download-errors.ts';
import { isNoRoom } from '@icls/lib/fs-errors';
import { DEFAULT_API_URL } from './api-status.ts';
import { CancelledError, checkModelName, oneLine, onePositional, parseVerbArgs, UsageError, type CliContext } from './cli-support.ts';
import type { ProgressStream } from '../pull/progress-bar.ts';
import { infoVerb, listVerb } from './models-list.ts';
import { catalogVerb, pullVerb } from './models-pull.ts';
import { ensureDefaultVerb, generateVerb, importVerb, listChoices } from './models-external.ts';

interface Verb {
  usage: string;
  summary: string;
  /** Extra help lines; may look things up (e.g. the variants a module offers). */
  details: () => Promise<string[]> | string[];
  run(ctx: CliContext, args: string[]): Promise<void>;
}

const PREFIX = 'npm run models --';

const VERBS: Record<string, Verb> = {
  list: {
    usage: 'list',
    summary: 'installed models, their input, and whether the running api serves them',
    details: () => [
      `Asks the api at $API_URL (default http://127.0.0.1:$PORT, or ${DEFAULT_API_URL}) for /v1/models, waiting at most 500 ms;`,
      'LOADED shows "yes (N workers)", "no", "? (api not running)" or "? (api did not answer within 0.5 s)".',
      'Folders that fail to load are listed after the table with the reason, each once; for models the',
      'workers could not load, what their folder holds now (one fixed since they started loads only when',
      'they restart).',
    ],
    run: listVerb,
  },
  info: {
    usage: 'info <name>',
    summary: 'one model in full: config, labels, provenance, size and the sha256 of its file',
    details: () => [`Example: ${PREFIX} info mobilenetv2-12-int8`],
    run: infoVerb,
  },
  pull: {
    usage: 'pull <name> [--force]',
    summary: 'download a catalog model, verify its size and sha256, and install it',
    details: () => [
      '  --force, -f   download again even when the model is installed',
      '  --list        show the catalog (same as `catalog`)',
      'A dropped connection is resumed; a file with the wrong sha256 is discarded and nothing is installed.',
      'MODELS_MIRROR_URL fetches the same repository paths from a mirror instead of the ONNX Model Zoo.',
      `Example: ${PREFIX} pull squeezenet1.1-7`,
    ],
    run: pullVerb,
  },
  catalog: {
    usage: 'catalog',
    summary: 'the models `pull` can fetch, with sizes and checksums (also `pull --list`)',
    details: () => ['MODELS_CATALOG_FILE names a JSON file of extra entries (same shape as the built-in ones).'],
    run: catalogVerb,
  },
  remove: {
    usage: 'remove <name>',
    summary: 'delete an installed model folder',
    details: () => [`Example: ${PREFIX} remove squeezenet1.1-7`],
    run: removeVerb,
  },
  import: {
    usage: 'import <file|folder|keras:<architecture>|nsfwjs-variant> [options]',
    summary: 'convert a Keras (.keras, .h5) or TF.js model to ONNX, offline, and install it',
    details: async () => [
      'Sources: a Keras 3 .keras archive, a legacy full-model .h5 (Keras 2 or 3), a TF.js layers or graph',
      'model folder (model.json + shards), keras:resnet50 or keras:mobilenetv2 with --weights (the Keras',
      'Applications weights file),',
      `or an NSFWJS model bundled with the nsfwjs package (${await listChoices('import')}).`,
      '  --name <folder>        install under this name (default: from the file name; keras-resnet50)',
      '  --labels <file>        class names, one per line in output order; `imagenet` for the ImageNet names',
      '  --preprocess <mode>    caffe | tf | torch (Keras preprocess_input modes) | unit (x / 255) | none (raw',
      '                         0–255 pixels); needed unless the model scales its own input (a Rescaling layer first)',
      '  --weights <file>       weights-only .h5 for keras:resnet50 / keras:mobilenetv2',
      '  --force, -f            replace an installed model of that name (refused otherwise, before any work)',
      `Example: ${PREFIX} import keras:resnet50 --weights resnet50_weights_tf_dim_ordering_tf_kernels.h5`,
      `Example: ${PREFIX} import my_model.keras --labels classes.txt --preprocess tf`,
    ],
    run: importVerb,
  },
  generate: {
    usage: 'generate <kind> [--name <folder>] [--force]',
    summary: 'build a generated model (test fixtures, benchmarks) and install it',
    details: async () => [
      `Kinds: ${await listChoices('generate')}`,
      '  --name <folder>   install under another folder name (default: the kind)',
      '  --force, -f       replace an installed model of that name (refused otherwise)',
    ],
    run: generateVerb,
  },
  'ensure-default': {
    usage: 'ensure-default',
    summary: 'build the default model (nsfw-mobilenetv2, from the nsfwjs package) unless it is installed',
    details: () => ['`npm ci` runs it; so do the model image builds. Needs the nsfwjs package (a development dependency).'],
    run: ensureDefaultVerb,
  },
};

function generalUsage(): string {
  const width = Math.max(...Object.values(VERBS).map((v) => v.usage.length));
  return [
    `Usage: ${PREFIX} <command> [options]`,
    '',
    'Commands:',
    ...Object.values(VERBS).map((v) => `  ${v.usage.padEnd(width)}  ${v.summary}`),
    '',
    'Environment:',
    '  MODELS_DIR           model repository (default ./models, relative to the current folder)',
    `  API_URL              api asked by \`list\` and \`info\` which models are loaded`,
    `                       (default http://127.0.0.1:$PORT when PORT is set, else ${DEFAULT_API_URL})`,
    '  MODELS_MIRROR_URL    mirror of the ONNX Model Zoo tree used by `pull`',
    '                       (a private one: https://user:password@host/path, sent as Basic auth)',
    '  MODELS_CATALOG_FILE  JSON file of extra catalog entries',
    '  DEBUG=1              print stack traces on errors',
    '',
    `Run \`${PREFIX} <command> --help\` for a command's details.`,
  ].join('\n');
}

async function verbUsage(name: string): Promise<string> {
  const verb = VERBS[name]!;
  return [`Usage: ${PREFIX} ${verb.usage}`, '', verb.summary, ...(await verb.details())].join('\n');
}

async function removeVerb(ctx: CliContext, args: string[]): Promise<void> {
  const { positionals } = parseVerbArgs('remove', args, {});
  const name = checkModelName('remove', onePositional('remove', positionals, 'model name'));
  await removeModel(ctx.modelsDir, name);
  ctx.print(`removed ${name} from ${ctx.modelsDir}; workers that had loaded it, if any, keep serving it until they restart`);
}

/** Where `main` writes; the process's streams by default, buffers in tests. */
export interface CliIo {
  stdout: { write(text: string): unknown };
  stderr: ProgressStream;
}

/**
 * Runs one command line and returns the exit code. Errors are reported here, never thrown,
 * so the entry point only has to exit.
 */
export async function main(
  argv: string[],
  env: NodeJS.ProcessEnv,
  signal: AbortSignal,
  io: CliIo = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  const ctx: CliContext = {
    modelsDir: resolve(env.MODELS_DIR || './models'),
    env,
    print: (line) => io.stdout.write(`${line}\n`),
    stderr: io.stderr,
    signal,
  };
  const [verbName, ...rest] = argv;
  try {
    // Set but empty: a mistake the services refuse too, not a wish for ./models.
    if (env.MODELS_DIR !== undefined && env.MODELS_DIR.trim() === '') throw new UsageError('MODELS_DIR is set but empty: unset it (./models) or name a folder');
    if (verbName === undefined) throw new UsageError('no command given');
    if (verbName === '--help' || verbName === '-h' || verbName === 'help') {
      const topic = rest[0];
      ctx.print(topic && topic in VERBS ? await verbUsage(topic) : generalUsage());
      return 0;
    }
    const verb = Object.hasOwn(VERBS, verbName) ? VERBS[verbName] : undefined;
    if (!verb) throw new UsageError(`unknown command "${verbName}"`);
    if (rest.includes('--help') || rest.includes('-h')) {
      ctx.print(await verbUsage(verbName));
      return 0;
    }
    await verb.run(ctx, rest);
    return 0;
  } catch (err) {
    return report(err, ctx);
  }
}

/** One line on stderr (plus usage for usage errors); the stack only with DEBUG=1. */
async function report(err: unknown, { env, signal, stderr, modelsDir }: CliContext): Promise<number> {
  const write = (text: string): unknown => stderr.write(`${text}\n`);
  if (env.DEBUG === '1') write(err instanceof Error ? (err.stack ?? err.message) : String(err));
  if (err instanceof UsageError) {
    write(`error: ${err.message}\n`);
    write(err.verb ? await verbUsage(err.verb) : generalUsage());
    return 2;
  }
  // A cancelled pull says what import and generate say: nothing is installed before the last step (the
  // download's own words spoke of a partial file, even when no byte had come).
  const message = err instanceof DownloadCancelledError ? new CancelledError().message : err instanceof Error ? err.message : String(err);
  write(`error: ${oneLine(message)}${hintFor(err, modelsDir, env.MODELS_MIRROR_URL)}`);
  return err instanceof DownloadCancelledError || signal.aborted ? 130 : 1;
}

function hintFor(err: unknown, modelsDir: string, mirror: string | undefined): string {
  if (err instanceof ModelNotFoundError) return ' (`list` shows the installed models)';
  // With a mirror set, suggesting one sent the user looking for a setting already there.
  if (err instanceof NetworkError) return mirror ? ` (check the network, and that MODELS_MIRROR_URL ${redactUrl(mirror)} serves the model)` : ' (check the network, or set MODELS_MIRROR_URL to a mirror)';
  if (isNoRoom(err)) return ` (the disk of MODELS_DIR ${modelsDir} has no room left: free some, or set MODELS_DIR to a folder on a larger disk)`;
  return cannotWriteHint(err as NodeJS.ErrnoException, modelsDir);
}

/** Why MODELS_DIR cannot be written, in words, when the failure is about it (not, say, an unreadable source). */
function cannotWriteHint(err: NodeJS.ErrnoException, modelsDir: string): string {
  const dir = resolve(modelsDir);
  const about = typeof err.path === 'string' && (resolve(err.path) === dir || resolve(err.path).startsWith(`${dir}/`) || dir.startsWith(`${resolve(err.path)}/`));
  if (!about) return '';
  if (err.code === 'EROFS') return ` (MODELS_DIR ${modelsDir} is on a read-only file system: set MODELS_DIR to a folder you can write)`;
  if (err.code === 'EACCES' || err.code === 'EPERM') return ` (this user may not write in MODELS_DIR ${modelsDir}: run as its owner, or set MODELS_DIR to a folder you can write)`;
  if (err.code === 'ENOTDIR') return ` (part of MODELS_DIR ${modelsDir} is not a folder: a file, or a link to nothing; fix MODELS_DIR)`;
  // ENOENT from mkdir: a folder above that cannot hold folders (under /proc, say).
  if (err.code === 'ENOENT' && err.syscall === 'mkdir') return ` (MODELS_DIR ${modelsDir} could not be created: check that the folder above it exists and can be written)`;
  return '';
}

// Run only as a program, so tests and other tools can import `main`.
if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const controller = new AbortController();
  // First Ctrl-C cancels cleanly (partial downloads removed, nothing installed) once the current step
  // ends: a conversion step can take seconds; a second one kills as usual.
  process.once('SIGINT', () => controller.abort(new CancelledError()));
  const code = await main(process.argv.slice(2), process.env, controller.signal);
  // Exit explicitly: keep-alive sockets of fetch must not hold the process open.
  process.exit(code);
}
