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
