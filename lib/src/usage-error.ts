/**
 * A command line that does not make sense (the `models` command, the chaos run, the bench, the stress
 * test): the program prints the message (and, for the first two, its usage) and never shows a stack
 * trace. It exits 2, except the bench and the stress test, which document 1 (the stress test's 2 is
 * "too many requests failed").
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

export class UsageError extends Error {
  override name = 'UsageError';
  constructor(
    message: string,
    /** The sub-command whose usage to show; undefined for the general usage. */
    readonly verb?: string,
  ) {
    super(message);
  }
}

/**
 * A numeric command-line flag: undefined when it was not given, else its value, or a UsageError that
 * names the flag and the range when it is not a number in it (or not whole, when `integer`).
 */
export function numberFlag(flag: string, raw: string | undefined, range: { min: number; max: number; integer?: boolean }): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < range.min || n > range.max || (range.integer && !Number.isInteger(n))) {
    throw new UsageError(`${flag} must be a ${range.integer ? 'whole ' : ''}number from ${range.min} to ${range.max}, got "${raw}"`);
  }
  return n;
}

/**
 * node:util's parseArgs, strict unless told otherwise, with a mistake thrown as a one-line UsageError
 * for `verb`: Node's own messages run to three lines for `--duration -1`, and leave a quote open for an
 * unknown option of a command that takes positional arguments.
 */
export function parseFlags<T extends ParseArgsConfig>(config: T, verb?: string): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs<T>({ strict: true, ...config });
  } catch (err) {
    throw new UsageError(flagMistake(err as Error & { code?: string }), verb);
  }
}

function flagMistake(err: Error & { code?: string }): string {
  const quoted = /'([^']+)'/.exec(err.message)?.[1] ?? '';
  const flag = quoted.split(' ')[0]!;
  switch (err.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${flag}`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument "${flag}": this command takes only --options`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      if (/does not take an argument/.test(err.message)) return `${flag} takes no value`;
      if (/ambiguous/.test(err.message)) return `${flag} needs a value; to give one that starts with a dash, write ${flag}=-1 (for example)`;
      return `${flag} needs a value`;
    default:
      return err.message.split('\n')[0]!;
  }
}
