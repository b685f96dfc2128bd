/** The model a request gets when it names none. */
export const PREFERRED_DEFAULT_MODEL = 'nsfw-mobilenetv2';

/** DEFAULT_MODEL when set; else the preferred default when served; else the first served model by name. */
export function pickDefaultModel(configured: string | undefined, served: Iterable<string>): string | undefined {
  if (configured) return configured;
  const names = [...served].sort();
  return names.includes(PREFERRED_DEFAULT_MODEL) ? PREFERRED_DEFAULT_MODEL : names[0];
}
