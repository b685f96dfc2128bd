/**
 * Keeps docker-compose.yml and docker-compose.test.yml in step with the code: the variables of
 * lib/src/config.ts, the Dockerfiles' stages and entries, the shared volumes. Without a Docker engine
 * these files are otherwise only read by people, so a renamed variable or entry would break them silently.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { describeConfig, loadConfig } from '@icls/lib/config';
import { ROOT } from './helpers/fixtures.ts';
import {
  CONFIG_NAMES, compose, composeTest, dockerCmd, environmentOf, IMAGES, interpolatedNames, last, read, readDockerfile, scripts, service, services,
} from './helpers/deploy-files.ts';

describe('docker-compose.yml', () => {
  it('names only variables lib/src/config.ts declares, with values it accepts', () => {
    for (const [name, svc] of Object.entries(services)) {
      const env = environmentOf(svc);
      for (const key of env.keys()) {
        assert.ok(CONFIG_NAMES.has(key), `service "${name}" sets ${key}, which lib/src/config.ts does not declare`);
      }
      if (name === 'redis') continue;
      assert.doesNotThrow(() => loadConfig(Object.fromEntries(env)), `service "${name}": its environment fails lib/src/config.ts`);
    }
    for (const name of interpolatedNames(read('docker-compose.yml').replace(/^\s*#.*$/gm, ''))) {
      assert.ok(CONFIG_NAMES.has(name), `docker-compose.yml reads \${${name}} from the host, which is not a lib/src/config.ts variable`);
    }
  });

  it("docs/deploy.md lists every variable compose takes from the host's environment", () => {
    const docs = read('docs/deploy.md');
    for (const name of interpolatedNames(read('docker-compose.yml').replace(/^\s*#.*$/gm, ''))) {
      assert.ok(docs.includes(`\`${name}\``), `docker-compose.yml reads \${${name}} from the host; docs/deploy.md does not say so`);
    }
  });

  it('runs the api and the model workers in Redis mode on the compose Redis', () => {
    for (const name of ['api', 'model']) {
      const svc = service(compose, name);
      const env = environmentOf(svc);
      assert.equal(env.get('QUEUE_MODE'), 'redis', `${name}: QUEUE_MODE`);
      assert.equal(env.get('REDIS_URL'), 'redis://redis:6379', `${name}: REDIS_URL`);
      assert.equal(svc.depends_on?.redis?.condition, 'service_healthy', `${name} waits for a healthy Redis`);
    }
    assert.deepEqual(service(compose, 'redis').healthcheck?.test, ['CMD', 'redis-cli', 'ping']);
  });

  it('builds each service from its Dockerfile, with a target that exists there', () => {
    for (const { dockerfile, service: name } of Object.values(IMAGES)) {
      const build = service(compose, name).build;
      assert.equal(build?.context, '.', `${name}: build context is the repository root`);
      assert.equal(build?.dockerfile, dockerfile);
      assert.equal(build?.target, readDockerfile(dockerfile).at(-1)!.name, `${name}: builds the runtime stage, the last of ${dockerfile}`);
    }
    for (const [name, svc] of Object.entries(composeTest.services)) {
      if (!svc.build) continue;
      const dockerfile = svc.build.dockerfile!;
      assert.ok(existsSync(join(ROOT, dockerfile)), `docker-compose.test.yml ${name}: no ${dockerfile}`);
      assert.ok(readDockerfile(dockerfile).some((s) => s.name === svc.build!.target), `docker-compose.test.yml ${name}: ${dockerfile} has no stage "${svc.build.target}"`);
    }
  });

  it('shares the uploads volume: the api writes it, workers read it at the same UPLOAD_DIR', () => {
    const mounts = (name: string) =>
      (service(compose, name).volumes ?? []).map((v) => {
        const [source, target, mode] = v.split(':');
        return { source: source!, target: target!, mode: mode ?? 'rw' };
      });
    const uploadsOf = (name: string) => {
      const dir = environmentOf(service(compose, name)).get('UPLOAD_DIR');
      const mount = mounts(name).find((m) => m.target === dir);
      assert.ok(mount, `${name}: UPLOAD_DIR ${dir} is not on a volume`);
      return mount;
    };
    const api = uploadsOf('api');
    const model = uploadsOf('model');
    assert.equal(api.source, 'uploads');
    assert.equal(model.source, api.source, 'api and model mount the same named volume for uploads');
    assert.equal(api.mode, 'rw');
    assert.equal(model.mode, 'ro', 'workers only read uploads');
    const feedbackDir = environmentOf(service(compose, 'api')).get('FEEDBACK_DIR');
    assert.ok(mounts('api').some((m) => m.source === 'feedback' && m.target === feedbackDir), 'FEEDBACK_DIR is on the feedback volume');
    assert.ok(compose.volumes && 'uploads' in compose.volumes && 'feedback' in compose.volumes, 'uploads and feedback are declared named volumes');
    // Workers' MODELS_DIR on a named volume, so models added with the `models` command survive restarts
    // and rebuilds (inside the image only, nothing but the default model could ever be served).
    const modelsDir = environmentOf(service(compose, 'model')).get('MODELS_DIR');
    assert.ok(mounts('model').some((m) => m.source === 'models' && m.target === modelsDir && m.mode === 'rw'), 'MODELS_DIR is on the models volume');
    assert.ok('models' in compose.volumes, 'models is a declared named volume');
  });

  it('publishes the api port the api listens on, and lets the model scale', () => {
    const api = service(compose, 'api');
    const port = environmentOf(api).get('PORT') ?? describeConfig().find((v) => v.name === 'PORT')!.default;
    assert.deepEqual(api.ports, [`80:${port}`]);
    assert.equal(last(readDockerfile(IMAGES.api.dockerfile).at(-1)!, 'EXPOSE'), port, 'api/Dockerfile EXPOSEs the port');
    const model = service(compose, 'model');
    for (const key of ['container_name', 'ports']) assert.ok(!(key in model), `model has no ${key}, so \`--scale model=N\` works`);
    assert.ok('stop_grace_period' in model, 'model: a stop grace period lets jobs drain');
  });

  it('checks liveness, not readiness, in the api container; the model check matches the worker entry', () => {
    const apiTest = (service(compose, 'api').healthcheck?.test ?? []).join(' ');
    assert.match(apiTest, /\/healthz/);
    assert.doesNotMatch(apiTest, /\/readyz/, '/readyz is 503 until a worker is up: not for the container healthcheck');
    const modelTest = (service(compose, 'model').healthcheck?.test ?? []).join(' ');
    const pattern = /'([^']+)'/.exec(modelTest)?.[1];
    assert.ok(pattern, `model healthcheck: no quoted grep pattern in ${modelTest}`);
    assert.match(dockerCmd(IMAGES.model.dockerfile).join(' '), new RegExp(pattern), 'the model healthcheck looks for the process the image runs');
    const imageCheck = last(readDockerfile(IMAGES.model.dockerfile).at(-1)!, 'HEALTHCHECK') ?? '';
    assert.ok(imageCheck.includes(pattern), 'model/Dockerfile HEALTHCHECK looks for the same process');
  });
});

describe('docker-compose.test.yml', () => {
  it('runs the test targets with the scripts their Dockerfiles run', () => {
    for (const img of Object.values(IMAGES)) {
      const entry = Object.values(composeTest.services).find((s) => s.build?.dockerfile === img.dockerfile);
      assert.ok(entry, `docker-compose.test.yml builds ${img.dockerfile}`);
      assert.equal(entry.build?.target, 'test');
      assert.deepEqual(entry.command, ['npm', 'run', img.testScript]);
      for (const key of environmentOf(entry).keys()) {
        // Test suites read TEST_REDIS_URL (tests/helpers/processes.ts); anything else must be configuration.
        assert.ok(CONFIG_NAMES.has(key) || (key === 'TEST_REDIS_URL' && read('tests/helpers/processes.ts').includes(key)), `docker-compose.test.yml sets unknown ${key}`);
      }
    }
  });
});
