/**
 * What every `models` verb shares: the context it runs in, the usage error, argument parsing, the
 * model-name check and plain-text tables.
 */
import { isAbsolute, join, relative, resolve } from 'node:path';
import type { ParseArgsConfig } from 'node:util';
import { parseFlags, UsageError } from '@icls/lib/usage-error';
import type { ProgressStream } from '../pull/progress-bar.ts';
import { isModelName, MODEL_NAME_RULE, shownModelName } from '@icls/lib/job-contract';
import { assertReplaceable, hasConfig } from '../repository/model-repository.ts';

/** Where a verb reads its settings and writes its output; tests can build one by hand. */
export interface CliContext {
  modelsDir: string;
  env: NodeJS.ProcessEnv;
  /** One line of the verb's result, to stdout. */
  print(line: string): void;
  /** Progress and notes, to stderr, so stdout stays clean for scripts. */
  stderr: ProgressStream;
  /** Fires on Ctrl-C so long verbs stop and clean up. */
  signal: AbortSignal;
}

export { UsageError };

/** The reason a Ctrl-C gives: long verbs stop at their next step, before anything is installed. */
export class CancelledError extends Error {
  override name = 'CancelledError';
  constructor() {
    super('cancelled with Ctrl-C: nothing was installed');
  }
}

/** node:util parseArgs, with its mistakes turned into usage errors for `verb`. */
export function parseVerbArgs<T extends ParseArgsConfig['options']>(
  verb: string,
  args: string[],
  options: T,
): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  const parsed = parseFlags({ args, options: { help: { type: 'boolean', short: 'h' }, ...options }, allowPositionals: true }, verb);
  return { values: parsed.values as Record<string, string | boolean | undefined>, positionals: parsed.positionals };
}

/** Exactly one positional argument called `what`, or a usage error. */
export function onePositional(verb: string, positionals: string[], what: string): string {
  if (positionals.length === 0) throw new UsageError(`${verb} needs a ${what}`, verb);
  if (positionals.length > 1) throw new UsageError(`${verb} takes one ${what}, got ${positionals.length}: ${positionals.join(' ')}`, verb);
  return positionals[0]!;
}

/**
 * A path the user typed, as from the folder they typed it in: `npm run` starts the command in the
 * project's folder and passes the user's in INIT_CWD (`cd docs && npm run models -- import ../my.keras`
 * looked for the file beside the project). Given relative to the project's folder, as other paths are.
 */
export function typedPath(env: NodeJS.ProcessEnv, path: string): string {
  const from = env.INIT_CWD;
  if (!from || isAbsolute(path) || resolve(from) === process.cwd()) return path;
  return relative(process.cwd(), resolve(from, path)) || '.';
}

/** Model names are folder names: this keeps `../x` and `a/b` from reaching outside the models folder. */
export function checkModelName(verb: string, name: string): string {
  if (!isModelName(name)) throw new UsageError(`"${shownModelName(name)}" is not a model name (${MODEL_NAME_RULE})`, verb);
  return name;
}

/** Left-aligned columns two spaces apart; the header is upper-cased. */
export function renderTable(headers: string[], rows: string[][]): string[] {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers.map((h) => h.toUpperCase())), ...rows.map(line)];
}

/** Folds a multi-line message (e.g. a config error listing problems) into one line for stderr or a table. */
export function oneLine(text: string): string {
  return text
    .trim()
    .replace(/:\s*\n\s*/g, ': ')
    .replace(/\s*\n\s*/g, '; ');
}

/** An address the environment gives (`API_URL`, `MODELS_MIRROR_URL`): undefined when unset, a usage error when it is no http(s) address. */
export function httpUrlFromEnv(env: Readonly<Record<string, string | undefined>>, name: string): string | undefined {
  const given = env[name];
  if (!given) return undefined;
  const url = URL.canParse(given) ? new URL(given) : undefined;
  if (url?.protocol !== 'http:' && url?.protocol !== 'https:') {
    throw new UsageError(`${name} must be an http:// or https:// address, got ${JSON.stringify(given.slice(0, 100))}`);
  }
  return given;
}

/** Whether MODELS_DIR has a model folder (one with config.json, loadable or not) of this name. */
export const isInstalled = (ctx: CliContext, name: string): Promise<boolean> => hasConfig(join(ctx.modelsDir, name));

/**
 * `import` and `generate` replace an installed model only when told (`--force`), as `pull` does: they
 * deleted its folder (a hand-made config and labels with it) without a word. Checked before any work.
 */
export async function refuseToReplace(ctx: CliContext, verb: 'import' | 'generate', name: string, force: unknown, opts: { renamable?: boolean } = {}): Promise<void> {
  // A file or someone's other folder at that place is refused now, --force or not, not after the conversion.
  await assertReplaceable(join(ctx.modelsDir, name));
  if (force === true || !(await isInstalled(ctx, name))) return;
  // A bundled NSFWJS variant installs under its own name only: --name is refused for it.
  const beside = opts.renamable === false ? '' : ', or --name to install beside it';
  throw new UsageError(`${name} is already installed in ${join(ctx.modelsDir, name)}: use --force to replace it (its folder is replaced whole)${beside}`, verb);
}
