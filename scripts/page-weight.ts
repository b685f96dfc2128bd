/**
 * Measures what each page of the web product costs a browser: requests and bytes (uncompressed, as
 * the api sends them), by kind, loaded in Debian's Chromium from a fresh cache. Starts its own
 * service (embedded mode, the generated tiny-rgb model) on a free port.
 *
 *   node --conditions=source --import tsx scripts/page-weight.ts
 */
import { readFile } from 'node:fs/promises';
import { fixtureModels, image, tempDir } from '../tests/helpers/fixtures.ts';
import { launchChromium, DESKTOP } from '../tests/helpers/browser.ts';
import { waitFor200 } from '../tests/helpers/http.ts';
import { ENTRY, freePort, startService } from '../tests/helpers/processes.ts';

const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const service = startService(ENTRY.start, {
  QUEUE_MODE: 'embedded',
  PORT: String(port),
  HOST: '127.0.0.1',
  MODELS_DIR: await fixtureModels(['tiny-rgb']),
  UPLOAD_DIR: await tempDir('weight-uploads'),
  FEEDBACK_DIR: await tempDir('weight-feedback'),
});
const browser = await launchChromium();
try {
  await waitFor200(`${base}/readyz`, 60_000, () => service.logs());
  const form = new FormData();
  form.set('file', new Blob([new Uint8Array(await readFile(image('chelsea.png')))]), 'chelsea.png');
  // As a browser posts the form: only browsers (Sec-Fetch-Site) are sent on to the result's address.
  const posted = await fetch(`${base}/`, { method: 'POST', body: form, redirect: 'manual', headers: { 'sec-fetch-site': 'same-origin' } });
  const result = posted.headers.get('location')!;
  console.log('| page | requests | HTML | CSS | JavaScript | images | total |\n|---|---:|---:|---:|---:|---:|---:|');
  for (const [name, path] of [['upload page', '/'], ['a result', result], ['review', '/feedback/review'], ['API page (/docs)', '/docs/']] as const) {
    const context = await browser.newContext({ viewport: DESKTOP });
    const page = await context.newPage();
    const sizes: Promise<[string, number]>[] = [];
    page.on('response', (r) => sizes.push(r.body().then((b) => [r.request().resourceType(), b.length] as [string, number], () => ['other', 0] as [string, number])));
    await page.goto(`${base}${path}`, { waitUntil: 'networkidle' });
    const all = await Promise.all(sizes);
    const sum = (kind: string) => all.filter(([k]) => k === kind).reduce((a, [, n]) => a + n, 0);
    const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;
    const total = all.reduce((a, [, n]) => a + n, 0);
    console.log(`| ${name} | ${all.length} | ${kb(sum('document'))} | ${kb(sum('stylesheet'))} | ${kb(sum('script'))} | ${kb(sum('image'))} | ${kb(total)} |`);
    await context.close();
  }
} finally {
  await browser.close();
  await service.stop();
}
