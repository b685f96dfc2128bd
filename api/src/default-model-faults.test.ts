/**
 * A default model that is not served must not look like a service still starting, nor be quietly
 * replaced by another model: /readyz and the refused predictions say what is wrong, and requests
 * naming a served model are still answered.
 */
import assert from 'node:assert/strict';
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fixtureModels, image, tempDir } from '../../tests/helpers/fixtures.ts';
import { startInjectApi, type InjectApi } from '../test/inject-app.ts';

const apis: InjectApi[] = [];
after(() => Promise.all(apis.map((a) => a.close())));

const predict = async (api: InjectApi, query = '') =>
  api.app.inject({ method: 'POST', url: `/v1/predict${query}`, headers: { 'content-type': 'image/png' }, payload: await readFile(image('chelsea.png')) });

/** A model folder holding tiny-rgb and a folder `broken` whose config.json is not JSON. */
async function tinyRgbBeside(broken: string): Promise<string> {
  const models = await tempDir('models-with-broken');
  await cp(join(await fixtureModels(['tiny-rgb']), 'tiny-rgb'), join(models, 'tiny-rgb'), { recursive: true });
  await mkdir(join(models, broken));
  await writeFile(join(models, broken, 'config.json'), '{ not json');
  return models;
}

/** An api started with `env` (closed after the file), and its first /readyz answer. */
async function startedWith(env: Record<string, string>) {
  const api = await startInjectApi(env);
  apis.push(api);
  return { api, ready: await api.app.inject({ url: '/readyz' }) };
}

describe('the default model is not served', () => {
  it('a DEFAULT_MODEL no worker holds (a typo): /readyz and /v1/predict name DEFAULT_MODEL and what is served', async () => {
    const { api, ready } = await startedWith({ DEFAULT_MODEL: 'tiny-rbg' });
    assert.equal(ready.statusCode, 503);
    assert.equal(ready.json().reason, 'no worker holds the default model "tiny-rbg" (DEFAULT_MODEL); workers serve: tiny-rgb');
    const refused = await predict(api);
    assert.equal(refused.statusCode, 503);
    assert.match(refused.json().error.message, /no worker holds the default model "tiny-rbg" \(DEFAULT_MODEL\); workers serve: tiny-rgb/);
    assert.equal((await predict(api, '?model=tiny-rgb')).statusCode, 200, 'a request naming a served model is answered');
  });

  it('DEFAULT_MODEL unset and nsfw-mobilenetv2 installed but broken: it stays the default, and the service says it failed to load', async () => {
    const { api, ready } = await startedWith({ MODELS_DIR: await tinyRgbBeside('nsfw-mobilenetv2') });
    assert.equal(ready.statusCode, 503, 'not ready: before, tiny-rgb quietly became the default');
    assert.equal(ready.json().defaultModel, 'nsfw-mobilenetv2');
    assert.match(ready.json().reason, /^the default model "nsfw-mobilenetv2" failed to load: .*not valid JSON/);
    const refused = await predict(api);
    assert.equal(refused.statusCode, 503);
    assert.match(refused.json().error.message, /the default model "nsfw-mobilenetv2" failed to load/);
    assert.equal((await predict(api, '?model=tiny-rgb')).statusCode, 200);
    assert.equal((await api.app.inject({ url: '/v1/models' })).json().default, 'nsfw-mobilenetv2');
  });

  it('DEFAULT_MODEL unset, no nsfw-mobilenetv2, and a broken folder that sorts first: the first served model is the default', async () => {
    const { api, ready } = await startedWith({ MODELS_DIR: await tinyRgbBeside('half-copied') });
    assert.equal(ready.statusCode, 200, 'before, the broken "half-copied" became the default and every request got 503');
    assert.equal(ready.json().defaultModel, 'tiny-rgb');
    assert.equal((await predict(api)).statusCode, 200);
    // Named, the broken model is refused saying it failed to load, not as a name nobody installed.
    const named = await predict(api, '?model=half-copied');
    assert.equal(named.statusCode, 404);
    assert.equal(named.json().error.code, 'UNKNOWN_MODEL');
    assert.match(named.json().error.message, /"half-copied" is installed but failed to load: .*not valid JSON.*; served: tiny-rgb$/);
    assert.match((await predict(api, '?model=nope')).json().error.message, /"nope"; served: tiny-rgb$/);
  });
});
