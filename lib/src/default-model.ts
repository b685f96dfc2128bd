/** The model a request gets when it names none. */
export const PREFERRED_DEFAULT_MODEL = 'nsfw-mobilenetv2';

/**
 * DEFAULT_MODEL when set; else the preferred default when present; else the first present model by
 * name. Present: served, or installed but failed to load (`broken`, from the workers): a default that
 * breaks must make the service say so, not quietly answer with another model's classes.
 */
export function pickDefaultModel(configured: string | undefined, served: Iterable<string>, broken: Iterable<string> = []): string | undefined {
  if (configured) return configured;
  const names = [...new Set([...served, ...broken])].sort();
  return names.includes(PREFERRED_DEFAULT_MODEL) ? PREFERRED_DEFAULT_MODEL : names[0];
}
