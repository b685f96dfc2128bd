/** The model a request gets when it names none. */
export const PREFERRED_DEFAULT_MODEL = 'nsfw-mobilenetv2';

/**
 * DEFAULT_MODEL when set; else the preferred default when present (served, or installed but failed to
 * load: `broken`, from the workers), since a default that breaks must make the service say so, not
 * quietly answer with another model's classes; else the first served model by name (nobody chose
 * that one, so a broken folder that sorts first must not take the service down); else the first
 * broken one, whose reason the 503s then give.
 */
export function pickDefaultModel(configured: string | undefined, served: Iterable<string>, broken: Iterable<string> = []): string | undefined {
  if (configured) return configured;
  const up = [...served].sort();
  const down = [...broken].sort();
  if (up.includes(PREFERRED_DEFAULT_MODEL) || down.includes(PREFERRED_DEFAULT_MODEL)) return PREFERRED_DEFAULT_MODEL;
  return up[0] ?? down[0];
}
