/**
 * Runs `fn` every `ms` without ever running it twice at once: a slow run (Redis away, say) skips
 * ticks instead of piling calls up. Failures go to `onError`. Returns a function that stops it.
 */
export function every(ms: number, fn: () => Promise<unknown>, onError: (err: unknown) => void): () => void {
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    fn()
      .catch(onError)
      .finally(() => (busy = false));
  }, ms);
  timer.unref();
  return () => clearInterval(timer);
}
