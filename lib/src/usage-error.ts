/**
 * A command line that does not make sense (the `models` command, the bench, the stress test): the
 * program prints the message and its usage, exits 2, and never shows a stack trace.
 */
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
