/**
 * A DEFAULT_MODEL no worker holds (a typo) must not look like a service still starting: /readyz and
 * the refused predictions name the variable and the models the workers do serve.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, it } from 'node:test';
import { image } from '../../tests/helpers/fixtures.ts';
import { startInjectApi, type InjectApi } from '../test/inject-app.ts';

let api: InjectApi;
before(async () => {
  api = await startInjectApi({ DEFAULT_MODEL: 'tiny-rbg' });
});
after(() => api.close());

it('a DEFAULT_MODEL no worker holds: /readyz and /v1/predict say so, and what is served', async () => {
  const ready = await api.app.inject({ url: '/readyz' });
  assert.equal(ready.statusCode, 503);
  assert.equal(ready.json().reason, 'no worker holds the default model "tiny-rbg" (DEFAULT_MODEL); workers serve: tiny-rgb');
  const predicted = await api.app.inject({ method: 'POST', url: '/v1/predict', headers: { 'content-type': 'image/png' }, payload: await readFile(image('chelsea.png')) });
  assert.equal(predicted.statusCode, 503);
  assert.match(predicted.json().error.message, /no worker holds the default model "tiny-rbg" \(DEFAULT_MODEL\); workers serve: tiny-rgb/);
  const named = await api.app.inject({ method: 'POST', url: '/v1/predict?model=tiny-rgb', headers: { 'content-type': 'image/png' }, payload: await readFile(image('chelsea.png')) });
  assert.equal(named.statusCode, 200, 'a request naming a served model is answered');
});
