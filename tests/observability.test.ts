/**
 * Issue 12's "done when", on a running `npm start` (the compiled entry, Redis mode, two worker
 * processes): each process serves its metrics (the api on PORT, each worker on its own port), every
 * exposition passes `promtool check metrics`, a request moves the counters it should, a request's
 * trace reaches a local OTLP receiver with the api's and the worker's spans in one tree, both sides'
 * logs name the request and the job, and the docs and the Grafana dashboard name only metrics that exist.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { redisAnswers } from '@icls/lib/redis-probe';
import { fixtureModels, image, ROOT, tempDir } from './helpers/fixtures.ts';
import { postFile, waitFor200 } from './helpers/http.ts';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from './helpers/otlp-receiver.ts';
import { deleteRedisPrefix, ENTRY, freePort, freePortRange, REDIS_URL, startService, waitUntil, type Service } from './helpers/processes.ts';
import { familyNames, parseExposition, promtool, sum, type Sample } from './helpers/prometheus.ts';

const TOKEN = randomBytes(16).toString('hex');
const WORKERS = 2;
const MAX_UPLOAD = 1_000_000;

describe('npm start: metrics of every process, traces across the queue', () => {
  let system: Service;
  let otlp: OtlpReceiver;
  let prefix: string;
  let api: string;
  let workerPorts: number[];
  /** The last scrape of each process, by URL. */
  const scraped = new Map<string, string>();

  const scrape = async (url: string): Promise<Sample[]> => {
    const r = await fetch(url, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(r.status, 200, `${url}: ${r.status}`);
    assert.match(r.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await r.text();
    scraped.set(url, text);
    return parseExposition(text);
  };
  const metricsUrls = () => [`${api}/metrics`, ...workerPorts.map((p) => `http://127.0.0.1:${p}/metrics`)];
  const scrapeAll = async () => {
    const [apiSamples, ...workerSamples] = await Promise.all(metricsUrls().map(scrape));
    return { api: apiSamples!, workers: workerSamples.flat() };
  };

  before(async () => {
    assert.ok(await redisAnswers(REDIS_URL, 1000), `Redis must answer at ${REDIS_URL}`);
    otlp = await startOtlpReceiver();
    const port = await freePort();
    const firstWorkerPort = await freePortRange(WORKERS);
    workerPorts = Array.from({ length: WORKERS }, (_, i) => firstWorkerPort + i);
    api = `http://127.0.0.1:${port}`;
    prefix = `test-obs-${randomBytes(4).toString('hex')}`;
    system = startService(ENTRY.start, {
      QUEUE_MODE: 'redis',
      REDIS_URL,
      REDIS_PREFIX: prefix,
      HOST: '127.0.0.1',
      PORT: String(port),
      MODEL_WORKERS: String(WORKERS),
      WORKER_METRICS_PORT: String(firstWorkerPort),
      ORT_THREADS: '1',
      MODELS_DIR: await fixtureModels(['tiny-rgb']),
      UPLOAD_DIR: await tempDir('uploads'),
      FEEDBACK_DIR: await tempDir('feedback'),
      MAX_UPLOAD_BYTES: String(MAX_UPLOAD),
      ADMIN_TOKEN: TOKEN,
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp.endpoint,
      LOG_LEVEL: 'debug',
    });
    await waitFor200(`${api}/readyz`, 30_000, system.logs);
    for (const p of workerPorts) await waitFor200(`http://127.0.0.1:${p}/healthz`, 30_000, system.logs);
    await waitUntil(
      async () => ((await (await fetch(`${api}/v1/models`)).json()) as { models: { workers: number }[] }).models[0]?.workers === WORKERS,
      30_000,
      `${WORKERS} workers never registered\n${system.logs()}`,
    );
  });

  after(async () => {
    await system?.stop();
    await otlp?.close();
    if (prefix) await deleteRedisPrefix(prefix);
  });

  it('a request moves the api and worker counters it should; every exposition passes promtool check metrics', async () => {
    const before = await scrapeAll();
    const good = await postFile(`${api}/v1/predict`, image('chelsea.png'));
    assert.equal(good.status, 200, await good.clone().text());
    // A truncated JPEG: the api stores it (its header is fine), a worker finds it damaged.
    const damaged = await postFile(`${api}/v1/predict`, image('truncated.jpg'));
    assert.equal(damaged.status, 400);
    const tooLarge = await fetch(`${api}/v1/predict`, { method: 'POST', body: randomBytes(MAX_UPLOAD + 1), headers: { 'content-type': 'image/png' } });
    assert.equal(tooLarge.status, 413);
    const after = await scrapeAll();

    const delta = (side: 'api' | 'workers', name: string, labels: Record<string, string> = {}) => sum(after[side], name, labels) - sum(before[side], name, labels);
    const v1 = { method: 'POST', route: '/v1/predict' };
    assert.equal(delta('api', 'icls_http_requests_total', { ...v1, status: '200', error_code: '' }), 1);
    assert.equal(delta('api', 'icls_http_requests_total', { ...v1, status: '400', error_code: 'IMAGE_UNREADABLE' }), 1);
    assert.equal(delta('api', 'icls_http_requests_total', { ...v1, status: '413', error_code: 'FILE_TOO_LARGE' }), 1);
    assert.equal(delta('api', 'icls_http_refusals_total', { reason: 'FILE_TOO_LARGE' }), 1);
    assert.equal(delta('api', 'icls_http_request_duration_seconds_count', v1), 3);
    assert.equal(delta('api', 'icls_upload_size_bytes_count'), 2, 'two uploads were stored');
    assert.equal(sum(after.api, 'icls_http_requests_in_flight'), 1, 'only the scrape itself is in flight');
    assert.equal(sum(after.api, 'icls_queue_up'), 1);
    assert.equal(sum(after.api, 'icls_queue_workers', { model: 'tiny-rgb' }), WORKERS);
    assert.equal(sum(after.api, 'icls_queue_length', { model: 'tiny-rgb' }), 0, 'answered jobs leave the stream');

    assert.equal(delta('workers', 'icls_jobs_total', { model: 'tiny-rgb', outcome: 'ok' }), 1);
    assert.equal(delta('workers', 'icls_jobs_total', { model: 'tiny-rgb', outcome: 'IMAGE_UNREADABLE' }), 1);
    assert.equal(delta('workers', 'icls_job_stage_seconds_count', { model: 'tiny-rgb', stage: 'queue_wait' }), 2);
    assert.equal(delta('workers', 'icls_job_stage_seconds_count', { model: 'tiny-rgb', stage: 'inference' }), 1, 'the damaged image never reached inference');
    assert.equal(sum(after.workers, 'icls_model_loaded', { model: 'tiny-rgb' }), WORKERS);
    assert.ok(sum(after.workers, 'nodejs_eventloop_lag_p99_seconds') > 0, 'workers report their event-loop lag');

    for (const [url, text] of scraped) {
      const { status, output } = promtool(['check', 'metrics'], text);
      assert.equal(status, 0, `promtool check metrics on ${url}:\n${output}`);
    }
  });

  it('a worker\'s metrics port is admin, as the api\'s /metrics is; its /healthz is open', async () => {
    const url = `http://127.0.0.1:${workerPorts[0]}`;
    const anonymous = await fetch(`${url}/metrics`);
    assert.equal(anonymous.status, 401);
    assert.match(anonymous.headers.get('www-authenticate') ?? '', /^Basic realm=/);
    assert.equal(((await anonymous.json()) as { error: { code: string } }).error.code, 'ADMIN_TOKEN_REQUIRED');
    assert.equal((await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer wrong-token-wrong-token' } })).status, 401);
    assert.equal((await fetch(`${api}/metrics`)).status, 401);
    assert.deepEqual(await (await fetch(`${url}/healthz`)).json(), { status: 'ok' });
    assert.equal((await fetch(`${url}/other`)).status, 404);
  });

  it('a request\'s trace holds the api\'s and the worker\'s spans in one tree; both sides\' logs name the request and the job', async () => {
    const traceId = randomBytes(16).toString('hex');
    const clientSpan = randomBytes(8).toString('hex');
    const requestId = `obs-${randomBytes(6).toString('hex')}`;
    const form = new FormData();
    // Not the image the counters test sent: that one would be answered from the result cache, without a worker.
    form.set('file', new Blob([new Uint8Array(await readFile(image('coffee.png')))]), 'coffee.png');
    const r = await fetch(`${api}/v1/predict`, {
      method: 'POST',
      body: form,
      headers: { traceparent: `00-${traceId}-${clientSpan}-01`, 'x-request-id': requestId },
    });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-request-id'), requestId);

    const ofTrace = () => otlp.spans.filter((s) => s.traceId === traceId);
    await waitUntil(() => ofTrace().length >= 7, 15_000, `spans of the trace: ${JSON.stringify(ofTrace(), null, 1)}`);
    const one = (name: string, service: string): ReceivedSpan => {
      const found = ofTrace().filter((s) => s.name === name && s.service === service);
      assert.equal(found.length, 1, `one "${name}" span from ${service}: ${JSON.stringify(ofTrace(), null, 1)}`);
      return found[0]!;
    };
    const server = one('POST /v1/predict', 'icls-api');
    assert.equal(server.parentSpanId, clientSpan, 'the api continues the client\'s trace');
    assert.equal(server.attributes['request.id'], requestId);
    assert.equal(server.attributes['http.response.status_code'], 200);
    assert.equal(one('receive upload', 'icls-api').parentSpanId, server.spanId);
    const queued = one('queue job', 'icls-api');
    assert.equal(queued.parentSpanId, server.spanId);
    const job = one('run job', 'icls-model');
    assert.equal(job.parentSpanId, queued.spanId, 'the worker\'s span joins the api\'s through the job');
    assert.equal(job.attributes['request.id'], requestId);
    const jobId = String(job.attributes['job.id']);
    assert.equal(queued.attributes['job.id'], jobId);
    for (const stage of ['decode', 'preprocess', 'inference']) assert.equal(one(stage, 'icls-model').parentSpanId, job.spanId, stage);

    const lines = system
      .logs()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { name: string; requestId?: string; jobId?: string; msg: string });
    const apiLine = lines.find((l) => l.name === 'api' && l.msg === 'prediction answered' && l.jobId === jobId);
    assert.equal(apiLine?.requestId, requestId, 'the api logs the request id with the job id');
    const workerLines = lines.filter((l) => l.name === 'model' && l.jobId === jobId);
    assert.ok(workerLines.length >= 2, 'the worker logs the job');
    for (const l of workerLines) assert.equal(l.requestId, requestId, `worker line "${l.msg}" names the request`);
  });

  it('docs/deploy.md\'s metrics table lists exactly the icls_ metrics these processes expose', async () => {
    assert.equal(scraped.size, 1 + WORKERS, 'the first test scraped every process');
    const exposed = new Set([...scraped.values()].flatMap((text) => [...familyNames(text)]).filter((n) => n.startsWith('icls_')));
    const docs = await readFile(join(ROOT, 'docs/deploy.md'), 'utf8');
    const documented = new Set([...docs.matchAll(/^\| `(icls_\w+)` \|/gm)].map((m) => m[1]!));
    assert.deepEqual([...documented].sort(), [...exposed].sort());
  });

  it('the Grafana dashboard queries metrics these processes expose, in PromQL that promtool parses', async () => {
    assert.equal(scraped.size, 1 + WORKERS, 'the first test scraped every process');
    const families = new Set([...scraped.values()].flatMap((text) => [...familyNames(text)]));
    const dashboard = JSON.parse(await readFile(join(ROOT, 'deploy/grafana/icls-dashboard.json'), 'utf8')) as {
      panels: { title: string; type: string; targets?: { expr: string }[] }[];
      templating: { list: { name: string; definition?: string }[] };
    };
    const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));
    assert.ok(exprs.length >= 10);
    const variables = dashboard.templating.list.map((v) => ({ panel: `variable ${v.name}`, expr: v.definition ?? '' }));
    for (const { panel, expr } of [...exprs, ...variables]) {
      const names = [...expr.matchAll(/\b((?:icls|nodejs|process)_\w+)/g)].map((m) => m[1]!);
      for (const name of names) {
        const family = families.has(name) ? name : name.replace(/_(bucket|sum|count)$/, '');
        assert.ok(families.has(family), `panel "${panel}" queries ${name}, which no process exposes`);
      }
    }
    // Grafana's variables become what they stand for, then promtool parses each query as a rule.
    const rules = {
      groups: [
        {
          name: 'dashboard',
          rules: exprs.map(({ expr }, i) => ({ record: `dashboard:query_${i}`, expr: expr.replaceAll('$__rate_interval', '5m').replaceAll('$model', '.+') })),
        },
      ],
    };
    // JSON is YAML: promtool reads it as a rules file.
    const file = join(await tempDir('dashboard'), 'rules.yml');
    await writeFile(file, JSON.stringify(rules, null, 1));
    const { status, output } = promtool(['check', 'rules', file]);
    assert.equal(status, 0, `promtool check rules:\n${output}`);
  });
});
