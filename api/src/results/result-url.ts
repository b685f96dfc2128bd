/** The address of a result: the stored image and the model, so it can be reloaded, bookmarked and shared. */
export function resultUrl(image: string, model: string, extra: Record<string, string> = {}): string {
  const query = new URLSearchParams({ model, ...extra });
  return `/result/${encodeURIComponent(image)}?${query.toString()}`;
}
