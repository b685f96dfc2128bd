/**
 * The web product in a real browser: Debian's Chromium driven by playwright-core, against the real
 * service (`npm start`'s entry, embedded mode) on the generated tiny-rgb and tiny-slow models.
 * Drop, paste, preview, progress, the result at its own address without a reload, the model kept, a
 * report with a label stored once, the review's filters, marks and exports, the API page, the 404
 * page, and the original form without JavaScript; axe-core (WCAG 2.1 AA) on every page at desktop and
 * phone sizes, light and dark. Screenshots go to .tmp/browser/ (UPDATE_SCREENSHOTS=1 also refreshes
 * the README's, in docs/screenshots/).
 *
 * Needs /usr/bin/chromium (`apt-get install -y chromium`): the test fails, never skips, without it.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { assertAccessible, assertFitsAndTappable, CHROMIUM, DESKTOP, launchChromium, PHONE, screenshot } from './helpers/browser.ts';
import sharp from 'sharp';
import { expectedTinyRgb, fixtureModels, image, solidPng, tempDir } from './helpers/fixtures.ts';
import { lyingGif, pngHeader } from './helpers/hostile-corpus.ts';
import { waitFor200 } from './helpers/http.ts';
import { ENTRY, freePort, startService, type Service } from './helpers/processes.ts';

const MAX_UPLOAD_BYTES = 2 * 1024 * 1024;
const MAX_PIXELS = 1_000_000;
const md5 = async (file: string) => createHash('md5').update(await readFile(file)).digest('hex');

/** A file built inside the page from bytes, as a drop or a paste hands it over. */
async function pageFile(page: Page, file: string, type: string) {
  const base64 = (await readFile(file)).toString('base64');
  const name = file.slice(file.lastIndexOf('/') + 1);
  return page.evaluateHandle(([b64, n, t]) => {
    const dt = new DataTransfer();
    dt.items.add(new File([Uint8Array.from(atob(b64!), (c) => c.charCodeAt(0))], n!, { type: t }));
    return dt;
  }, [base64, name, type]);
}

/** A name Chromium resolves to the service (--host-resolver-rules): not localhost, so not a "potentially trustworthy" origin. */
const LAN_NAME = 'classifier.lan.test';

describe('the web product in Chromium (embedded service, tiny-rgb and tiny-slow)', () => {
  let service: Service | undefined;
  let browser: Browser | undefined;
  let desktop: BrowserContext;
  let page: Page;
  let base: string;
  let feedbackDir: string;

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `Chromium is missing at ${CHROMIUM}: install it with \`apt-get install -y chromium\` (never \`npx playwright install\`)`);
    const [models, uploads, feedback, port] = await Promise.all([fixtureModels(['tiny-rgb', 'tiny-slow']), tempDir('browser-uploads'), tempDir('browser-feedback'), freePort()]);
    feedbackDir = feedback;
    base = `http://127.0.0.1:${port}`;
    service = startService(ENTRY.start, {
      QUEUE_MODE: 'embedded',
      PORT: String(port),
      HOST: '127.0.0.1',
      MODELS_DIR: models,
      DEFAULT_MODEL: 'tiny-rgb',
      UPLOAD_DIR: uploads,
      FEEDBACK_DIR: feedback,
      MAX_UPLOAD_BYTES: String(MAX_UPLOAD_BYTES),
      // An image the browser draws and the service refuses (over this), for the page's refusal states.
      MAX_PIXELS: String(MAX_PIXELS),
    });
    // The service and the browser start side by side; either failing fails the suite with its reason.
    const [ready, launched] = await Promise.allSettled([waitFor200(`${base}/readyz`, 60_000, () => service!.logs()), launchChromium([`--host-resolver-rules=MAP ${LAN_NAME} 127.0.0.1`])]);
    if (launched.status === 'fulfilled') browser = launched.value;
    if (ready.status === 'rejected') throw ready.reason;
    if (launched.status === 'rejected') throw new Error(`Chromium (${CHROMIUM}) did not start: ${(launched.reason as Error).message}`);
    desktop = await browser!.newContext({ viewport: DESKTOP, acceptDownloads: true });
    page = await desktop.newPage();
  });

  after(async () => {
    await browser?.close();
    await service?.stop();
  });

  /** Marks the current document, to tell later whether the page was reloaded. */
  const markDocument = () => page.evaluate(() => ((window as unknown as { marked: boolean }).marked = true));
  const sameDocument = () => page.evaluate(() => (window as unknown as { marked?: boolean }).marked === true);
  const focusedId = () => page.evaluate(() => document.activeElement?.id ?? '');

  it('over plain http to a host that is not localhost (no Sec-Fetch-* headers), a result still gets its own address, with and without JavaScript', async () => {
    // Chromium sends Sec-Fetch-Site only to https and localhost: to a LAN address or a name over http the
    // page's post carried only Origin, got the 200 meant for programs, and kept the address `/`.
    const lan = base.replace('127.0.0.1', LAN_NAME);
    for (const [javaScriptEnabled, photo] of [[true, 'rocket.jpg'], [false, 'coffee.png']] as const) {
      const context = await browser!.newContext({ viewport: DESKTOP, javaScriptEnabled });
      try {
        const p = await context.newPage();
        await p.goto(`${lan}/`);
        await p.setInputFiles('#file', image(photo));
        const posted = p.waitForRequest((r) => r.method() === 'POST');
        await p.click('#submit');
        assert.equal((await (await posted).allHeaders())['sec-fetch-site'], undefined, 'the case at hand: no Sec-Fetch-Site');
        await p.waitForURL(/\/result\/[0-9a-f]{32}\.(jpg|png)\?model=tiny-rgb$/, { timeout: 15_000 });
        await p.locator('#result').waitFor();
      } finally {
        await context.close();
      }
    }
  });

  it('drop anywhere, preview, upload progress, the result at its own address without a reload, focus on it', async () => {
    const photo = image('chelsea.png');
    const expected = await expectedTinyRgb(photo);
    await page.goto(`${base}/`);
    assert.equal(await page.title(), 'Image classifier');
    await assertAccessible(page, 'the upload page (desktop)');
    await screenshot(page, 'upload-desktop-light', true);
    await markDocument();

    const files = await pageFile(page, photo, 'image/png');
    await page.dispatchEvent('main h1', 'dragenter', { dataTransfer: files });
    assert.equal(await page.evaluate(() => document.body.classList.contains('dragging')), true, 'the page shows where to drop');
    await page.dispatchEvent('main h1', 'drop', { dataTransfer: files });
    await page.locator('#preview').waitFor();
    assert.ok((await page.$eval('#preview', (img: HTMLImageElement) => img.decode().then(() => img.naturalWidth))) > 0, 'the preview shows the dropped image');
    assert.equal(await focusedId(), 'submit', 'the next step has the focus');

    // A slow uplink, so the progress can be seen: Chromium's own network throttling (about 1.2 s for 240 KB).
    const cdp = await desktop.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 20, downloadThroughput: -1, uploadThroughput: 200 * 1024 });
    await page.evaluate(() => {
      const w = window as unknown as { progress: string[]; shown: string[]; announced: string[] };
      const [seen, shown, announced]: string[][] = [(w.progress = []), (w.shown = []), (w.announced = [])];
      new MutationObserver(() => seen.push(document.getElementById('progress-bar')!.getAttribute('value') ?? 'busy')).observe(document.getElementById('progress-bar')!, { attributes: true });
      for (const [id, into] of [['progress-percent', shown], ['progress-text', announced]] as const) {
        new MutationObserver(() => into.push(document.getElementById(id)!.textContent ?? '')).observe(document.getElementById(id)!, { childList: true, characterData: true, subtree: true });
      }
      // One entry per batch of changes made in one go (one task): whether it showed the region, and wrote its text.
      const region = document.getElementById('progress')!;
      const live = document.getElementById('progress-text')!;
      const moments: { shown: boolean; text: boolean }[] = ((w as unknown as { moments: unknown }).moments = []);
      new MutationObserver((records) =>
        moments.push({ shown: records.some((r) => r.target === region && r.attributeName === 'hidden' && !region.hidden), text: records.some((r) => live.contains(r.target) && live.textContent !== '') }),
      ).observe(region, { attributes: true, attributeFilter: ['hidden'], childList: true, characterData: true, subtree: true });
    });
    await page.click('#submit');
    await page.locator('#progress .spinner').waitFor({ state: 'visible' });
    await page.locator('#result').waitFor();
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    const progress = await page.evaluate(() => (window as unknown as { progress: string[] }).progress);
    assert.ok(progress.some((v) => Number(v) > 0 && Number(v) < 100), `the bar moved through the upload: ${progress.join(',')}`);
    const { shown, announced } = await page.evaluate(() => {
      const w = window as unknown as { shown: string[]; announced: string[] };
      return { shown: w.shown, announced: w.announced };
    });
    assert.ok(shown.some((v) => /^[1-9]\d?%$/.test(v)), `the percentage is shown: ${shown.join(',')}`);
    // The live region is read out on every change: the start and the end of the upload, not each percent.
    assert.deepEqual(announced, ['Uploading 235 KB…', 'Uploaded. The model is looking at it…']);
    // Its first text comes after the region is shown, not in the same moment (some screen readers missed it then).
    const moments = await page.evaluate(() => (window as unknown as { moments: { shown: boolean; text: boolean }[] }).moments);
    const shownAt = moments.findIndex((m) => m.shown);
    assert.ok(shownAt >= 0 && !moments[shownAt]!.text && moments.findIndex((m) => m.text) > shownAt, `the region shown, then its text: ${JSON.stringify(moments)}`);

    assert.equal(await sameDocument(), true, 'no page reload');
    assert.equal(new URL(page.url()).pathname + new URL(page.url()).search, `/result/${await md5(photo)}.png?model=tiny-rgb`);
    assert.equal(await page.textContent('#prediction'), expected.label);
    assert.equal(await page.textContent('#score'), String(expected.score));
    assert.equal(await page.locator('ol.bars li').count(), 3);
    assert.equal(await focusedId(), 'result', 'the focus moves to the result');
    const img = page.locator('#result img');
    const loaded = await img.evaluate((el: HTMLImageElement) => el.decode().then(() => ({ w: el.naturalWidth, src: el.currentSrc })));
    assert.ok(loaded.w > 0);
    assert.equal(new URL(loaded.src).pathname, `/display/${await md5(photo)}.png`, 'the stored upload, shown through /display/ as the original');
    await assertAccessible(page, 'a result (desktop)');
    await screenshot(page, 'result-desktop-light', true);

    // The address is real: a reload shows the same result and posts nothing.
    const posts: string[] = [];
    page.on('request', (r) => r.method() === 'POST' && posts.push(r.url()));
    await page.reload();
    assert.equal(await page.textContent('#prediction'), expected.label);
    assert.deepEqual(posts, []);
    assert.equal(await focusedId(), 'result');
  });

  it('a stalled upload says so after 15 s of silence and can be cancelled from the keyboard; the image stays chosen for a retry', async () => {
    // Its own context: the fake clock (to pass the 15 s at once) stays with the context it is installed in.
    const context = await browser!.newContext({ viewport: DESKTOP });
    try {
      const p = await context.newPage();
      await p.clock.install();
      await p.goto(`${base}/`);
      await p.setInputFiles('#file', image('chelsea.png'));
      // The server stops answering: the post is held, never answered (before, "Uploading…" until the 180 s deadline).
      await p.route(`${base}/`, (route) => (route.request().method() === 'POST' ? undefined : route.continue()));
      await p.focus('#submit');
      await p.keyboard.press('Enter');
      await p.locator('#cancel').waitFor({ state: 'visible' });
      await p.clock.runFor(16_000);
      assert.equal(await p.textContent('#progress-text'), 'No progress for 15 s: check your connection, or cancel.');
      // The focus moved from the (now disabled) upload button to Cancel (it fell to <body>); Enter presses it.
      assert.equal(await p.evaluate(() => document.activeElement?.id), 'cancel');
      await p.keyboard.press('Enter');
      await p.locator('#messages .error').waitFor();
      assert.equal((await p.textContent('#messages .error'))?.trim(), 'Upload cancelled: nothing was classified. The image is still chosen; send it again when you are ready.');
      assert.equal(await p.isVisible('#progress'), false);
      assert.equal(await p.isEnabled('#submit'), true, 'the form is back');
      assert.equal(await p.evaluate(() => document.activeElement?.id), 'messages', 'the focus is on what happened');
      assert.equal(await p.$eval('#file', (el: HTMLInputElement) => el.files?.[0]?.name), 'chelsea.png', 'the image stays chosen');
      // The service answers again: the same image is sent once more, with one click.
      await p.unroute(`${base}/`);
      await p.click('#submit');
      await p.locator('#result').waitFor();
    } finally {
      await context.close();
    }
  });

  it('cancelled once the image is all sent: the page says it stopped waiting, not that nothing was classified', async () => {
    // A proxy in front that passes the upload on whole and holds the service's answer back (the
    // browser's own request interception holds the upload too, so the page never sees it all sent).
    let answer!: () => void;
    const held = new Promise<void>((resolve) => (answer = resolve));
    const service = new URL(base);
    const proxy = createServer((req, res) => {
      const upstream = httpRequest({ host: service.hostname, port: service.port, path: req.url, method: req.method, headers: req.headers }, (up) => {
        void (req.method === 'POST' ? held : Promise.resolve()).then(() => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        });
      });
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const p = await desktop.newPage();
    try {
      await p.goto(`http://127.0.0.1:${(proxy.address() as AddressInfo).port}/`);
      await p.setInputFiles('#file', image('coffee.png'));
      await p.click('#submit');
      await p.locator('#progress-text').getByText('Uploaded. The model is looking at it…').waitFor();
      await p.click('#cancel');
      await p.locator('#messages .error').waitFor();
      assert.equal((await p.textContent('#messages .error'))?.trim(), 'Stopped waiting. The image was sent and may still be classified; it is still chosen: send it again to see the result.');
      assert.equal(await p.$eval('#file', (el: HTMLInputElement) => el.files?.[0]?.name), 'coffee.png', 'the image stays chosen');
    } finally {
      answer();
      await p.close();
      proxy.closeAllConnections();
      await new Promise((resolve) => proxy.close(resolve));
    }
  });

  it('paste with another model: the picker keeps it for the next upload and on the result\'s address', async () => {
    await page.goto(`${base}/`);
    await page.selectOption('#model', 'tiny-slow');
    const files = await pageFile(page, image('coffee.png'), 'image/png');
    await page.evaluate((dt) => document.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt })), files);
    await page.locator('#preview').waitFor();
    await page.click('#submit');
    await page.waitForURL(/model=tiny-slow/);
    await page.locator('#result').waitFor();
    assert.match((await page.textContent('#result .meta')) ?? '', /Model tiny-slow version 1/);
    assert.equal(await page.inputValue('#model'), 'tiny-slow', 'kept after the answer');
    await page.reload();
    assert.equal(await page.inputValue('#model'), 'tiny-slow', 'kept on the result\'s address');

    // "Link copied" is said in a status region, which screen readers announce (the button's own text was not).
    await desktop.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
    await page.click('#copy-link');
    await page.locator('#result [role=status]').getByText('Link copied').waitFor({ timeout: 2000 });
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), await page.$eval('#result-link', (a: HTMLAnchorElement) => a.href));
  });

  it('report with a label: stored once however fast it is clicked; thanks, and the focus on it', async () => {
    const photo = image('chelsea.png');
    const expected = await expectedTinyRgb(photo);
    await page.goto(`${base}/result/${await md5(photo)}.png?model=tiny-rgb`);
    assert.deepEqual(await page.$$eval('#label-suggestions option', (o) => o.map((x) => (x as HTMLOptionElement).value).sort()), ['blue', 'green', 'red']);
    await page.fill('#label', 'a tabby cat');
    await page.locator('#report-form button[type=submit]').dblclick();
    await page.locator('#report-saved').waitFor();
    assert.equal((await page.textContent('#report-saved'))?.trim(), 'Thank you: your report was saved for review.');
    assert.equal(await focusedId(), 'report-saved');
    const line = `{'filename': '${await md5(photo)}.png', 'prediction': '${expected.label}', 'score': ${expected.score} }`;
    const lines = (await readFile(join(feedbackDir, 'feedback'), 'utf8')).split('\n').filter(Boolean);
    assert.deepEqual(lines, [line], 'one line, the original\'s report byte for byte');
    await page.reload(); // reloading the thanks stores nothing
    const records = (await readFile(join(feedbackDir, 'reports.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(records.map((r) => [r.label, r.model, r.modelVersion, r.prediction]), [['a tabby cat', 'tiny-rgb', '1', expected.label]]);
  });

  it('checks size and type before sending; an example photo classifies in one click', async () => {
    await page.goto(`${base}/`);
    const posts: string[] = [];
    const onRequest = (r: { method(): string; url(): string }) => r.method() === 'POST' && posts.push(r.url());
    page.on('request', onRequest);
    await page.setInputFiles('#file', { name: 'huge.png', mimeType: 'image/png', buffer: Buffer.alloc(MAX_UPLOAD_BYTES + 300_000) });
    assert.equal((await page.textContent('#messages .error'))?.trim(), '“huge.png” is 2.3 MB; the limit is 2 MB. Choose a smaller image.');
    assert.equal(await focusedId(), 'messages', 'the focus moves to the error');
    await page.setInputFiles('#file', { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('hello') });
    await page.waitForFunction(() => /is not a PNG, JPEG, GIF or WebP image/.test(document.querySelector('#messages .error')?.textContent ?? ''));
    // Too many pixels, told from the header in the service's words, before the image is drawn or sent (a
    // 12000×12000 PNG was decoded for its preview, sent, then refused). Here MAX_PIXELS is 1,000,000.
    await page.evaluate(() => {
      const preview = document.getElementById('preview')!;
      (window as unknown as { previewed: boolean }).previewed = false;
      new MutationObserver(() => ((window as unknown as { previewed: boolean }).previewed ||= preview.hasAttribute('src'))).observe(preview, { attributes: true });
    });
    const refusedWith = async (name: string, mimeType: string, buffer: Buffer) => {
      await page.setInputFiles('#file', { name, mimeType, buffer });
      await page.waitForFunction(() => /pixels/.test(document.querySelector('#messages .error')?.textContent ?? ''));
      const text = (await page.textContent('#messages .error'))?.trim();
      await page.locator('#messages').evaluate((el) => el.replaceChildren());
      return text;
    };
    assert.equal(await refusedWith('poster.png', 'image/png', pngHeader(12_000, 12_000)), 'The image has more pixels than allowed: 12000×12000 is more than 1,000,000 pixels. Choose a smaller image.');
    assert.equal(await refusedWith('strip.png', 'image/png', pngHeader(70_000, 1)), 'The image has more pixels than allowed: 70000×1 has a side over 65,535 pixels. Choose a smaller image.');
    const jpeg = await sharp({ create: { width: 1200, height: 1000, channels: 3, background: '#808080' } }).jpeg().toBuffer();
    assert.equal(await refusedWith('photo.jpg', 'image/jpeg', jpeg), 'The image has more pixels than allowed: 1200×1000 is more than 1,000,000 pixels. Choose a smaller image.');
    // A GIF is counted as the service counts it: its screen (1×1 here) and its first frame together.
    assert.equal(await refusedWith('tiny.gif', 'image/gif', lyingGif(1100, 1000)), 'The image has more pixels than allowed: 1100×1000 is more than 1,000,000 pixels. Choose a smaller image.');
    assert.equal(await page.evaluate(() => (window as unknown as { previewed: boolean }).previewed), false, 'not drawn for a preview');
    // A PNG named without an extension comes from a file picker untyped: its first bytes say what it is,
    // and it is sent as photo.png (it was refused here as "not a PNG, JPEG, GIF or WebP image").
    await page.setInputFiles('#file', { name: 'photo', mimeType: '', buffer: await solidPng([20, 200, 30], 64, 64) });
    await page.waitForFunction(() => document.querySelector<HTMLInputElement>('#file')?.files?.[0]?.name === 'photo.png');
    assert.equal(await page.locator('#messages .error').count(), 0, 'not refused');
    assert.equal(await page.locator('#preview').isVisible(), true, 'shown before it is sent');
    assert.deepEqual(posts, [], 'nothing was sent');
    page.off('request', onRequest);

    // A double click sends the example once.
    page.on('request', onRequest);
    await page.getByRole('button', { name: 'A cup of coffee' }).dblclick();
    await page.locator('#result').waitFor();
    assert.equal(await page.textContent('#prediction'), (await expectedTinyRgb(join('api/public/examples', 'coffee.jpg'))).label);
    await page.waitForTimeout(300);
    assert.equal(posts.length, 1, `one upload for a double click: ${posts.join(', ')}`);
    page.off('request', onRequest);

    // The examples stay under the result: the next one is one click away too.
    const coffee = await page.getAttribute('#result img', 'src');
    await page.getByRole('button', { name: 'A rocket on its launch pad' }).click();
    await page.waitForFunction((before) => document.querySelector('#result img')?.getAttribute('src') !== before, coffee);
    assert.equal(await page.textContent('#prediction'), (await expectedTinyRgb(join('api/public/examples', 'rocket.jpg'))).label, `after ${coffee}`);
    assert.equal(await page.locator('.examples').isVisible(), true);
  });

  it('the skip link moves the focus to the content without a reload; an error page from a proxy in front is told as one', async () => {
    await page.goto(`${base}/`);
    await page.setInputFiles('#file', image('chelsea.png'));
    await markDocument();
    await page.focus('a.skip');
    await page.keyboard.press('Enter');
    await page.waitForTimeout(300);
    assert.equal(await sameDocument(), true, 'following #main does not reload the page (it did, and lost the chosen file)');
    assert.equal(await focusedId(), 'main');
    assert.equal(await page.$eval('#file', (el: HTMLInputElement) => el.files?.length), 1, 'the chosen file is kept');

    // A file typed as an image that the browser cannot draw is refused before it is sent (it showed a
    // broken preview and was sent, then refused by the service, and stayed chosen for another try).
    const posts: string[] = [];
    const onRequest = (r: { method(): string; url(): string }) => r.method() === 'POST' && posts.push(r.url());
    page.on('request', onRequest);
    await page.setInputFiles('#file', { name: 'fake.png', mimeType: 'image/png', buffer: Buffer.from('not an image at all') });
    await page.locator('#messages .error').waitFor();
    assert.equal((await page.textContent('#messages .error'))?.trim(), '“fake.png” cannot be read as an image. Choose a PNG, JPEG, GIF or WebP image.');
    assert.equal(await page.$eval('#file', (el: HTMLInputElement) => el.files?.length), 0, 'nothing stays chosen');
    assert.equal(await page.isVisible('#preview'), false, 'no broken preview');
    page.off('request', onRequest);
    assert.deepEqual(posts, [], 'nothing was sent');

    // A refusal after a result: the address and the title leave the old result (a reload brought it back).
    await page.setInputFiles('#file', image('chelsea.png'));
    await page.click('#submit');
    await page.locator('#result').waitFor();
    assert.match(page.url(), /\/result\//);
    // The service's refusal comes as the original's flash: a list inside the alert (role=alert on the <ul>
    // itself took its list semantics away: axe's listitem rule, WCAG 1.3.1). A name without an extension
    // is given its type's (the service refused a PNG named "photo" for its name alone).
    // The refused upload's model stays in the address, as without JavaScript (the script kept only the
    // path, and a reload went back to the default model).
    // The page refuses too many pixels itself: here it was served before MAX_PIXELS was lowered.
    await page.selectOption('#model', 'tiny-slow');
    await page.locator('#upload-form').evaluate((form) => form.removeAttribute('data-max-pixels'));
    await page.setInputFiles('#file', { name: 'photo', mimeType: 'image/png', buffer: await solidPng([200, 30, 30], 1100, 1000) });
    await page.click('#submit');
    await page.locator('#messages [role=alert] ul.flashes li').waitFor();
    // The page's own refusal (above) says what the service says.
    assert.equal(await page.textContent('#messages ul.flashes li'), 'The image has more pixels than allowed: 1100×1000 is more than 1,000,000 pixels');
    assert.equal(new URL(page.url()).pathname + new URL(page.url()).search, '/?model=tiny-slow');
    assert.equal(await page.title(), 'Image classifier');
    await assertAccessible(page, 'a refusal from the service (desktop)');
    await page.reload();
    assert.equal(await page.inputValue('#model'), 'tiny-slow', 'a reload keeps the model picked');

    // A refusal the service answers in place (503 for a full queue, 504, 507: the page at the form's
    // address, `/`) keeps the model in the address too (it went to `/`, and a reload to the default model).
    const inPlace = await (await fetch(`${base}/?model=tiny-slow`)).text();
    await page.route(`${base}/`, (route) => (route.request().method() === 'POST' ? route.fulfill({ status: 503, contentType: 'text/html', headers: { 'retry-after': '1' }, body: inPlace }) : route.continue()));
    try {
      await page.goto(`${base}/result/${await md5(image('chelsea.png'))}.png?model=tiny-rgb`);
      await page.selectOption('#model', 'tiny-slow');
      await page.setInputFiles('#file', image('chelsea.png'));
      await page.click('#submit');
      await page.waitForURL(`${base}/?model=tiny-slow`);
    } finally {
      await page.unroute(`${base}/`);
    }

    // A load balancer's own 502 page (no #messages, no result): before, the page showed nothing at all.
    await page.setInputFiles('#file', image('chelsea.png'));
    await page.route(`${base}/`, (route) => (route.request().method() === 'POST' ? route.fulfill({ status: 502, contentType: 'text/html', body: '<html><body><h1>502 Bad Gateway</h1></body></html>' }) : route.continue()));
    try {
      await page.click('#submit');
      await page.locator('#messages .error').waitFor();
      assert.equal((await page.textContent('#messages .error'))?.trim(), 'The service could not be reached (its server answered 502); try again in a moment.');
      assert.equal(await focusedId(), 'messages');
    } finally {
      await page.unroute(`${base}/`);
    }
  });

  it('review: a grid of cards, filters, mark reviewed in place, exports (CSV, JSONL, dataset)', async () => {
    await page.goto(`${base}/feedback/review`);
    assert.equal(await page.locator('li.card').count(), 1);
    assert.match((await page.textContent('li.card dl')) ?? '', /User saysa tabby cat.*Modeltiny-rgb v1/s);
    await assertAccessible(page, 'the review page (desktop)');
    await screenshot(page, 'review-desktop-light', true);

    await page.selectOption('#filter-status', 'reviewed');
    await Promise.all([page.waitForURL(/status=reviewed/), page.click('#filters button[type=submit]')]);
    assert.equal(await page.locator('li.card').count(), 0);
    await page.goto(`${base}/feedback/review?status=unreviewed`);
    await markDocument();
    // A mark the service refuses (here an id over its 64 characters) says why and can be tried again; the
    // retry that succeeds takes the message away (it stayed, saying the change was not saved).
    const idField = page.locator('li.card form.mark input[name=id]');
    const id = await idField.evaluate((el: HTMLInputElement) => el.value);
    await idField.evaluate((el: HTMLInputElement) => (el.value = 'x'.repeat(65)));
    await page.click('li.card form.mark button');
    await page.locator('#messages .error').waitFor();
    assert.match((await page.textContent('#messages .error')) ?? '', /^The change could not be saved: ./);
    assert.equal(await page.locator('li.card form.mark button').isEnabled(), true, 'the button can be tried again');
    await idField.evaluate((el: HTMLInputElement, value) => (el.value = value), id);
    await page.click('li.card form.mark button');
    await page.locator('#review-count').getByText('No reports match.').waitFor();
    assert.equal(await page.locator('#messages').evaluate((el) => el.childElementCount), 0, 'the failure\'s message is gone');
    assert.equal(await sameDocument(), true, 'marked in place');
    await page.goto(`${base}/feedback/review?status=reviewed`);
    assert.equal(await page.locator('li.card .badge.done').count(), 1);

    const download = async (name: string) => {
      const [file] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name }).click()]);
      return { name: file.suggestedFilename(), bytes: await readFile((await file.path())!) };
    };
    const csv = await download('CSV');
    assert.match(csv.name, /^reports-\d{4}-\d\d-\d\d\.csv$/);
    assert.match(csv.bytes.toString(), /,tiny-rgb,1,\w+,[\d.]+,a tabby cat,true,/);
    assert.equal(JSON.parse((await download('JSONL')).bytes.toString()).label, 'a tabby cat');
    const tar = await download('Dataset (.tar)');
    assert.equal(tar.bytes.subarray(345, 356).toString(), 'a tabby cat');
    assert.equal(tar.bytes.subarray(0, 36).toString(), `${await md5(image('chelsea.png'))}.png`);
  });

  it('the API page (Swagger UI, offline) shows copyable curl, Python and fetch examples; 404 page; favicon', async () => {
    await page.goto(`${base}/docs/`);
    await page.locator('#operations-default-post_predict button.opblock-summary-control').click();
    const examples = page.locator('#operations-default-post_predict .renderedMarkdown pre');
    await examples.first().waitFor();
    const texts = await examples.allTextContents();
    assert.match(texts.join('\n'), new RegExp(`curl -s -F file=@photo.jpg '${base}/predict'`));
    assert.match(texts.join('\n'), /import requests[\s\S]*requests\.post\(/);
    assert.match(texts.join('\n'), /await fetch\(/);
    await assertAccessible(page, '/docs with /predict open');
    await screenshot(page, 'docs-desktop-light');

    const missing = await page.goto(`${base}/no-such-page`);
    assert.equal(missing?.status(), 404);
    assert.equal(await page.textContent('h1'), 'Page not found');
    await assertAccessible(page, 'the 404 page');
    const icon = await page.goto(`${base}/favicon.ico`);
    assert.equal(icon?.headers()['content-type'], 'image/svg+xml');
  });

  for (const scheme of ['light', 'dark'] as const) {
    it(`phone 390×844, ${scheme}: every page passes axe, nothing scrolls sideways, every control is ≥ 44 px tall`, async () => {
      const phone = await browser!.newContext({ viewport: PHONE, colorScheme: scheme, isMobile: true, hasTouch: true });
      const p = await phone.newPage();
      try {
        const result = `${base}/result/${await md5(image('chelsea.png'))}.png?model=tiny-rgb`;
        for (const [name, url] of [['upload', `${base}/`], ['result', result], ['review', `${base}/feedback/review`], ['thanks', `${base}/feedback`], ['404', `${base}/nope`]] as const) {
          await p.goto(url);
          await assertAccessible(p, `${name} (phone, ${scheme})`);
          await assertFitsAndTappable(p, `${name} (phone, ${scheme})`);
          if (name !== 'thanks' && name !== '404') await screenshot(p, `${name}-phone-${scheme}`, name === 'result' && scheme === 'dark');
        }
        // Swagger UI's page had no viewport tag: laid out 980 px wide and shrunk, its text unreadable.
        await p.goto(`${base}/docs/`);
        assert.equal(await p.evaluate(() => window.innerWidth), PHONE.width, '/docs is laid out at the phone\'s width');
        if (scheme === 'light') await assertAccessible(p, `/docs (phone, ${scheme})`);
      } finally {
        await phone.close();
      }
    });
  }

  it('without JavaScript: the original form uploads, the result has its address, the report and the flash work', async () => {
    const noJs = await browser!.newContext({ viewport: DESKTOP, javaScriptEnabled: false });
    const p = await noJs.newPage();
    try {
      const photo = image('astronaut.png');
      const expected = await expectedTinyRgb(photo);
      await p.goto(`${base}/`);
      assert.equal(await p.locator('.examples').isVisible(), false, 'no example buttons without a script to send them');
      await p.click('form.upload button[type=submit]');
      assert.equal(await p.$eval('#file', (el: HTMLInputElement) => el.validity.valueMissing), true, 'nothing is sent without a file');
      await p.setInputFiles('#file', photo);
      await Promise.all([p.waitForURL(/\/result\//), p.click('form.upload button[type=submit]')]);
      assert.equal(new URL(p.url()).pathname, `/result/${await md5(photo)}.png`);
      assert.equal(await p.textContent('#prediction'), expected.label);
      await p.fill('#label', 'an astronaut');
      await Promise.all([p.waitForURL(/#report-saved$/), p.click('#report-form button[type=submit]')]);
      assert.equal((await p.textContent('#report-saved'))?.trim(), 'Thank you: your report was saved for review.');

      await p.goto(`${base}/`);
      await p.selectOption('#model', 'tiny-slow');
      await p.setInputFiles('#file', { name: 'invoice.pdf', mimeType: 'application/pdf', buffer: Buffer.from('%PDF-1.4\n%%EOF\n') });
      await Promise.all([p.waitForLoadState('load'), p.click('form.upload button[type=submit]')]);
      assert.equal(p.url(), `${base}/?model=tiny-slow`, 'redirected back to the page, as the original, with the model picked');
      assert.equal((await p.textContent('ul.flashes'))?.trim(), 'Allowed image types are -> png, jpg, jpeg, gif, webp');
      assert.equal(await p.inputValue('#model'), 'tiny-slow', 'the next upload goes to the model picked, not the default');
      await p.reload();
      assert.equal(await p.locator('ul.flashes').count(), 0, 'the flash shows once');
      assert.equal(await p.inputValue('#model'), 'tiny-slow');
    } finally {
      await noJs.close();
    }
  });
});
