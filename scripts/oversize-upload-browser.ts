/**
 * Measurement, not a test: what Chromium shows when the upload page posts a file over MAX_UPLOAD_BYTES
 * (default 20 MiB) with JavaScript off (with it, the page refuses the file before sending), and after how long. Starts an api + worker on Redis (127.0.0.1:6379) and Debian's
 * /usr/bin/chromium through playwright-core.
 *   node --conditions=source --import tsx scripts/oversize-upload-browser.ts [sizes in MB, default 25,48,100]
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { fixtureModels, tempDir } from '../tests/helpers/fixtures.ts';
import { waitFor200 } from '../tests/helpers/http.ts';
import { deleteRedisPrefix, ENTRY, freePort, REDIS_URL, startService } from '../tests/helpers/processes.ts';
const port = await freePort();
const env = { QUEUE_MODE: 'redis', REDIS_URL, REDIS_PREFIX: 'scratch-' + randomBytes(3).toString('hex'), MODELS_DIR: await fixtureModels(['tiny-rgb']), UPLOAD_DIR: await tempDir('uploads'), FEEDBACK_DIR: await tempDir('fb'), PORT: String(port), DEFAULT_MODEL: 'tiny-rgb' };
const api = startService(ENTRY.api, env);
const w = startService(ENTRY.worker, env);
await waitFor200(`http://127.0.0.1:${port}/readyz`, 30000, () => api.logs());
const dir = await tempDir('big');
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'] });
for (const mb of (process.argv[2] ?? '25,48,100').split(',').map(Number)) {
  const file = join(dir, `big-${mb}.jpg`);
  await writeFile(file, Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), randomBytes(mb * 1024 * 1024)]));
  // Without JavaScript: the page's script refuses an oversized file before sending anything, so only the
  // plain form (a browser without the script) reaches the server's limit.
  const page = await (await browser.newContext({ javaScriptEnabled: false })).newPage();
  await page.goto(`http://127.0.0.1:${port}/`);
  await page.setInputFiles('form.upload input[type=file]', file);
  const t0 = Date.now();
  let outcome = '';
  try {
    await Promise.all([page.waitForNavigation({ timeout: 60_000 }), page.click('form.upload button[type=submit]')]);
    outcome = `url ${page.url()} flash: ${(await page.textContent('ul.flashes').catch(() => null))?.trim()}`;
  } catch (err) {
    outcome = `error: ${(err as Error).message.split('\n')[0]}`;
  }
  const body = (await page.textContent('body').catch(() => ''))?.slice(0, 120).replace(/\s+/g, ' ');
  console.log(`${mb} MB: ${Date.now() - t0} ms; ${outcome}; body: ${body}`);
  await page.close();
}
await browser.close();
await api.stop();
await w.stop();
await deleteRedisPrefix(env.REDIS_PREFIX);
