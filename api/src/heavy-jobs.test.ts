/**
 * The api marks a job heavy from its upload's header (decodes to more than HEAVY_IMAGE_BYTES), so the
 * Redis queue puts it in the model's heavy stream; an ordinary photo is not marked.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import sharp from 'sharp';
import { HEAVY_IMAGE_BYTES, type JobData } from '@icls/lib/job-contract';
import { startInjectApi, type InjectApi } from '../test/inject-app.ts';

let api: InjectApi;
const ran: JobData[] = [];

before(async () => {
  api = await startInjectApi({}, {
    // Answered without decoding: what matters here is the job the api built.
    wrap: () => async (job) => {
      ran.push(job);
      return { id: job.id, model: job.model, modelVersion: '1', predictions: [{ label: 'x', score: 1 }], timings: { queueMs: 0, preprocessMs: 0, inferenceMs: 0 }, worker: 'test' };
    },
  });
});
after(() => api.close());

const png = (side: number, channels: 3 | 4) =>
  sharp({ create: { width: side, height: side, channels, background: { r: 9, g: 9, b: 9, alpha: 1 } } }).png().toBuffer();

it('an upload that decodes to more than 64 MiB is a heavy job; a photo-sized one is not', async () => {
  // 4100² RGBA: 67.2 MB decoded; 4000² RGB: 48 MB (a 16 MP photo).
  assert.ok(4100 * 4100 * 4 > HEAVY_IMAGE_BYTES && 4000 * 4000 * 3 < HEAVY_IMAGE_BYTES);
  for (const [side, channels, heavy] of [[4100, 4, true], [4000, 3, undefined]] as const) {
    const r = await api.app.inject({ method: 'POST', url: '/v1/predict', headers: { 'content-type': 'image/png' }, payload: await png(side, channels) });
    assert.equal(r.statusCode, 200, r.body);
    assert.equal(ran.at(-1)!.heavy, heavy, `${side}² with ${channels} channels`);
  }
});
