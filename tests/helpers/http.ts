/** Small HTTP helpers for tests that talk to a real listening service. */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';

export interface UploadOptions {
  filename?: string;
  contentType?: string;
  fields?: Record<string, string>;
}

/** POSTs a file as multipart field `file`, as browsers and the original's clients do. */
export async function postFile(url: string, file: string | Buffer, opts: UploadOptions = {}): Promise<Response> {
  const bytes = typeof file === 'string' ? await readFile(file) : file;
  const form = new FormData();
  for (const [k, v] of Object.entries(opts.fields ?? {})) form.set(k, v);
  form.set('file', new Blob([new Uint8Array(bytes)], { type: opts.contentType ?? 'application/octet-stream' }), opts.filename ?? (typeof file === 'string' ? basename(file) : 'upload.png'));
  // A test that waits forever says nothing: a minute is far beyond any deadline the services have.
  return fetch(url, { method: 'POST', body: form, redirect: 'manual', signal: AbortSignal.timeout(60_000) });
}

/** Polls a URL until it answers 200 (start-up only; never used to wait for results). */
export async function waitFor200(url: string, timeoutMs: number, describe: () => string): Promise<void> {
  const until = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < until) {
    try {
      const r = await fetch(url);
      if (r.status === 200) return;
      last = `${r.status} ${await r.text()}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`${url} not ready after ${timeoutMs} ms (last: ${last})\n${describe()}`);
}
