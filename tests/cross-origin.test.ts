/**
 * CORS_ORIGINS, in a real browser: a page on a listed origin calls the programs' API and reads the
 * answers (a form upload; a raw image body, which needs a preflight; the `x-cache` header); a page on
 * another origin cannot read them, and reports stay same-origin only. Before, no origin could: the
 * preflight got 405 and no answer carried Access-Control-Allow-Origin.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { startStandInApi, type StandInApi } from '../api/test/stand-in-api.ts';
import { launchChromium } from './helpers/browser.ts';
import { image } from './helpers/fixtures.ts';

/** A blank page on an origin of its own. */
async function blankSite(): Promise<{ server: Server; origin: string }> {
  const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>other site</title>'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe('CORS_ORIGINS (Chromium)', () => {
  let browser: Browser;
  let api: StandInApi;
  let apiUrl: string;
  let listed: Awaited<ReturnType<typeof blankSite>>;
  let other: Awaited<ReturnType<typeof blankSite>>;
  const png = readFileSync(image('chelsea.png')).toString('base64');

  before(async () => {
    [listed, other] = await Promise.all([blankSite(), blankSite()]);
    api = await startStandInApi({ CORS_ORIGINS: `https://app.example.com, ${listed.origin}` });
    apiUrl = `http://127.0.0.1:${api.port}`;
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await api?.close();
    listed?.server.close();
    other?.server.close();
  });

  /** What a script on `origin` gets from the api: each call's status and JSON, or the error fetch threw. */
  async function callsFrom(origin: string): Promise<Record<string, string>> {
    const page = await browser.newPage();
    // tsx keeps function names with a helper (__name) that exists here, not in the page.
    await page.addInitScript('window.__name = (f) => f');
    await page.goto(`${origin}/`);
    const results = await page.evaluate(
      async ({ apiUrl, png }) => {
        const bytes = Uint8Array.from(atob(png), (c) => c.charCodeAt(0));
        const tell = async (call: Promise<Response>) => {
          try {
            const r = await call;
            const body = (await r.json()) as { success?: boolean; prediction?: string };
            return `${r.status} ${body.prediction ?? JSON.stringify(body).slice(0, 80)} x-cache=${r.headers.get('x-cache')}`;
          } catch (err) {
            return `threw ${(err as Error).name}`;
          }
        };
        const form = new FormData();
        form.append('file', new Blob([bytes], { type: 'image/png' }), 'cat.png');
        return {
          form: await tell(fetch(`${apiUrl}/v1/predict?model=m`, { method: 'POST', body: form })),
          raw: await tell(fetch(`${apiUrl}/predict?model=m`, { method: 'POST', body: bytes, headers: { 'content-type': 'image/png' } })),
          models: await tell(fetch(`${apiUrl}/v1/models`)),
          report: await tell(fetch(`${apiUrl}/v1/feedback`, { method: 'POST', body: JSON.stringify({ report: 'x' }), headers: { 'content-type': 'application/json' } })),
        };
      },
      { apiUrl, png },
    );
    await page.close();
    return results;
  }

  it('a page on a listed origin reads the answers: a form upload, a raw image body (preflighted), the models; not reports', { timeout: 60_000 }, async () => {
    const got = await callsFrom(listed.origin);
    assert.equal(got.form, '200 x x-cache=MISS', JSON.stringify(got));
    assert.match(got.raw!, /^200 x x-cache=(MISS|HIT)$/, JSON.stringify(got));
    assert.match(got.models!, /^200 /, JSON.stringify(got));
    assert.equal(got.report, 'threw TypeError', 'reports stay same-origin only');
  });

  it('a page on an origin not listed reads nothing', { timeout: 60_000 }, async () => {
    const got = await callsFrom(other.origin);
    assert.deepEqual(got, { form: 'threw TypeError', raw: 'threw TypeError', models: 'threw TypeError', report: 'threw TypeError' });
  });

  it('the preflight: 204 with the methods and headers allowed, for a listed origin only', async () => {
    const ask = (origin: string) =>
      fetch(`${apiUrl}/v1/predict`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' } });
    const yes = await ask('https://app.example.com');
    assert.equal(yes.status, 204);
    assert.equal(yes.headers.get('access-control-allow-origin'), 'https://app.example.com');
    assert.equal(yes.headers.get('access-control-allow-methods'), 'GET, POST');
    assert.match(yes.headers.get('access-control-allow-headers') ?? '', /content-type/);
    assert.equal(yes.headers.get('access-control-allow-credentials'), null, 'no credentials, ever');
    const no = await ask('https://evil.example');
    assert.equal(no.status, 405);
    assert.equal(no.headers.get('access-control-allow-origin'), null);
    assert.equal(no.headers.get('vary'), 'Origin');
    // Without Origin too: a shared cache must not hand this answer (no CORS header) to a listed origin.
    assert.equal((await fetch(`${apiUrl}/v1/models`)).headers.get('vary'), 'Origin');
  });
});

