/**
 * The upload page in a real browser: Debian's Chromium driven by playwright-core, against the real
 * service (`start.ts`, embedded mode) on the generated tiny-rgb model. Upload, see the image and the
 * prediction, report it as wrong, and get the original's flash for a disallowed file type.
 *
 * Needs /usr/bin/chromium (`apt-get install -y chromium`): the test fails, never skips, without it.
 * Screenshots go to a temporary folder, printed as a test diagnostic.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { expectedTinyRgb, fixtureModels, image, tempDir } from './helpers/fixtures.ts';
import { waitFor200 } from './helpers/http.ts';
import { ENTRY, freePort, startService, type Service } from './helpers/processes.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'];

describe('upload page in Chromium (embedded service, tiny-rgb)', () => {
  let service: Service | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let base: string;
  let feedbackDir: string;
  let shots: string;

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `Chromium is missing at ${CHROMIUM}: install it with \`apt-get install -y chromium\` (never \`npx playwright install\`)`);
    const [models, uploads, feedback, screenshots, port] = await Promise.all([
      fixtureModels(['tiny-rgb']),
      tempDir('browser-uploads'),
      tempDir('browser-feedback'),
      tempDir('browser-screenshots'),
      freePort(),
    ]);
    feedbackDir = feedback;
    shots = screenshots;
    base = `http://127.0.0.1:${port}`;
    service = startService(ENTRY.start, {
      QUEUE_MODE: 'embedded',
      PORT: String(port),
      HOST: '127.0.0.1',
      MODELS_DIR: models,
      UPLOAD_DIR: uploads,
      FEEDBACK_DIR: feedback,
    });
    // The service and the browser start side by side; either failing fails the suite with its reason.
    const [ready, launched] = await Promise.allSettled([
      waitFor200(`${base}/readyz`, 60_000, () => service!.logs()),
      chromium.launch({ executablePath: CHROMIUM, args: ARGS }),
    ]);
    if (launched.status === 'fulfilled') browser = launched.value;
    if (ready.status === 'rejected') throw ready.reason;
    if (launched.status === 'rejected') throw new Error(`Chromium (${CHROMIUM}) did not start: ${(launched.reason as Error).message}`);
    page = await browser!.newPage({ viewport: { width: 1000, height: 900 } });
  });

  after(async () => {
    await browser?.close();
    await service?.stop();
  });

  /** Clicks, then waits until a new document (not the one clicked in) has loaded. */
  const clickAndLoad = async (click: () => Promise<void>) => {
    await page.evaluate(() => ((window as unknown as { oldDocument: boolean }).oldDocument = true));
    await click();
    await page.waitForFunction(() => !(window as unknown as { oldDocument?: boolean }).oldDocument && document.readyState === 'complete');
  };

  const screenshot = async (name: string, t: { diagnostic(msg: string): void }) => {
    const path = join(shots, `${name}.png`);
    await page.screenshot({ path, fullPage: true });
    t.diagnostic(`screenshot: ${path}`);
  };

  it('uploads an image and shows it with the prediction and its score', async (t) => {
    const photo = image('chelsea.png');
    const expected = await expectedTinyRgb(photo);
    await page.goto(`${base}/`);
    assert.equal(await page.title(), 'Image classifier');
    await page.setInputFiles('form.upload input[type=file]', photo);
    await clickAndLoad(() => page.click('form.upload button[type=submit]'));

    assert.equal(await page.textContent('#prediction'), expected.label);
    assert.equal(await page.textContent('#score'), String(expected.score));
    const img = page.locator('section.result img');
    await img.waitFor();
    const loaded = await img.evaluate((el: HTMLImageElement) => el.decode().then(() => ({ w: el.naturalWidth, src: el.currentSrc })));
    assert.ok(loaded.w > 0, `the uploaded image is shown (naturalWidth ${loaded.w}, ${loaded.src})`);
    const md5 = createHash('md5').update(await readFile(photo)).digest('hex');
    assert.equal(new URL(loaded.src).pathname, `/display/${md5}.png`, 'the image is the stored upload, shown through /display/ as the original');
    await screenshot('1-result', t);
  });

  it('saves "Report wrong prediction" as the original\'s one-line report and thanks the user', async (t) => {
    const photo = image('chelsea.png');
    const expected = await expectedTinyRgb(photo);
    const md5 = createHash('md5').update(await readFile(photo)).digest('hex');
    await clickAndLoad(() => page.getByRole('button', { name: 'Report wrong prediction' }).click());
    assert.equal(page.url(), `${base}/feedback`);

    assert.match((await page.textContent('p.saved')) ?? '', /^Thank you: your report was saved for review\.$/);
    const lines = (await readFile(join(feedbackDir, 'feedback'), 'utf8')).split('\n').filter(Boolean);
    assert.equal(lines.at(-1), `{'filename': '${md5}.png', 'prediction': '${expected.label}', 'score': ${expected.score} }`);
    await screenshot('2-feedback', t);
    await page.click('a[href="/feedback/review"]');
    assert.equal(await page.textContent('ol li:first-child code'), lines.at(-1), 'the review page lists the report first');
    await screenshot('3-review', t);
  });

  it('cannot submit without a file: the input is required', async () => {
    await page.goto(`${base}/`);
    const posts: string[] = [];
    const onRequest = (r: { method(): string; url(): string }) => r.method() === 'POST' && posts.push(r.url());
    page.on('request', onRequest);
    await page.click('form.upload button[type=submit]');
    assert.equal(await page.$eval('form.upload input[type=file]', (el: HTMLInputElement) => el.validity.valueMissing), true);
    assert.equal(await page.$eval('form.upload', (f: HTMLFormElement) => f.checkValidity()), false);
    // Give a (wrong) submission the time to leave; the browser's validation keeps it from being sent.
    await page.waitForTimeout(300);
    page.off('request', onRequest);
    assert.deepEqual(posts, [], 'no upload is sent without a file');
  });

  it('flashes the allowed types for a file that is not an image type, once', async (t) => {
    await page.goto(`${base}/`);
    await page.setInputFiles('form.upload input[type=file]', { name: 'invoice.pdf', mimeType: 'application/pdf', buffer: Buffer.from('%PDF-1.4\n%%EOF\n') });
    await clickAndLoad(() => page.click('form.upload button[type=submit]'));
    assert.equal(page.url(), `${base}/`, 'redirected back to the page, as the original');
    assert.equal((await page.textContent('ul.flashes'))?.trim(), 'Allowed image types are -> png, jpg, jpeg, gif');
    assert.equal(await page.locator('section.result').count(), 0, 'no result for a rejected upload');
    await screenshot('4-flash', t);
    await page.reload();
    assert.equal(await page.locator('ul.flashes').count(), 0, 'the flash shows once');
  });
});
