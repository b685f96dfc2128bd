/**
 * Keeps the deployment files in step with the code: docker-compose.yml, docker-compose.test.yml,
 * api/Dockerfile, model/Dockerfile and .dockerignore, checked against lib/src/config.ts, the workspace
 * packages' package.json files and the source tree. Without a Docker engine these files are otherwise
 * only read by people, so a renamed variable, entry file or npm script would break the images silently.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { describeConfig, loadConfig } from '@icls/lib/config';
import { ROOT } from './helpers/fixtures.ts';

const read = (rel: string) => readFileSync(join(ROOT, rel), 'utf8');
const CONFIG_NAMES = new Set(describeConfig().map((v) => v.name));
interface PackageJson {
  name: string;
  scripts?: Record<string, string>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  engines?: Record<string, string>;
  workspaces?: string[];
}
const readPackage = (dir: string) => JSON.parse(read(join(dir, 'package.json'))) as PackageJson;
const pkg = readPackage('.');
const scripts = pkg.scripts ?? {};

// ---------------------------------------------------------------------------------------------------
// Compose files, read with a real YAML parser.

interface ComposeService {
  image?: string;
  build?: { context?: string; dockerfile?: string; target?: string };
  command?: string[];
  environment?: Record<string, string | number> | string[];
  volumes?: string[];
  ports?: string[];
  depends_on?: Record<string, { condition?: string }>;
  healthcheck?: { test?: string[] };
  [key: string]: unknown;
}
interface Compose {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

const compose = parseYaml(read('docker-compose.yml')) as Compose;
const composeTest = parseYaml(read('docker-compose.test.yml')) as Compose;
const services = compose.services;

function service(file: Compose, name: string): ComposeService {
  const s = file.services[name];
  assert.ok(s, `compose file: no service "${name}"`);
  return s;
}

/** A service's environment as name → value, with `${NAME:-default}` replaced by its default. */
function environmentOf(svc: ComposeService): Map<string, string> {
  const out = new Map<string, string>();
  const env = svc.environment;
  if (Array.isArray(env)) {
    for (const item of env) {
      const [name, ...rest] = item.split('=');
      out.set(name!, interpolateDefaults(rest.join('=')));
    }
  } else if (env) {
    for (const [name, value] of Object.entries(env)) out.set(name, interpolateDefaults(String(value)));
  }
  return out;
}

const interpolateDefaults = (s: string) => s.replace(/\$\{(\w+)(?::?-([^}]*))?\}/g, (_m, _name, def: string | undefined) => def ?? '');
/** Names of `${NAME}` / `${NAME:-x}` / `$NAME` interpolations (the host's environment, read by Compose). */
const interpolatedNames = (text: string) =>
  [...text.replace(/\$\$/g, '').matchAll(/\$\{?(\w+)/g)].map((m) => m[1]!).filter((n) => !/^\d/.test(n));

// ---------------------------------------------------------------------------------------------------
// Dockerfiles: stages and their instructions, continuation lines joined.

interface Instruction {
  op: string;
  args: string;
}
interface Stage {
  name: string;
  from: string;
  instructions: Instruction[];
}

function readDockerfile(rel: string): Stage[] {
  const logical = read(rel)
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const stages: Stage[] = [];
  for (const line of logical) {
    const [, op, args] = /^(\w+)\s+(.*)$/.exec(line) ?? [];
    assert.ok(op && args, `${rel}: cannot read the line "${line}"`);
    if (op.toUpperCase() === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      assert.ok(m, `${rel}: FROM without an image: "${line}"`);
      stages.push({ from: m[1]!, name: m[2] ?? String(stages.length), instructions: [] });
    } else {
      assert.ok(stages.length, `${rel}: "${op}" before the first FROM`);
      stages.at(-1)!.instructions.push({ op: op.toUpperCase(), args: args.trim() });
    }
  }
  return stages;
}

const all = (stage: Stage, op: string) => stage.instructions.filter((i) => i.op === op).map((i) => i.args);
const last = (stage: Stage, op: string) => all(stage, op).at(-1);
const stageNamed = (stages: Stage[], name: string) => {
  const stage = stages.find((s) => s.name === name);
  assert.ok(stage, `no stage "${name}"`);
  return stage;
};
const unquote = (s: string) => (/^(["']).*\1$/.test(s) ? s.slice(1, -1) : s);

/** Names set by `ENV A=1 B=2` (or the old `ENV A 1`). */
function envNames(stage: Stage): Map<string, string> {
  const out = new Map<string, string>();
  for (const args of all(stage, 'ENV')) {
    if (!args.includes('=')) {
      const [name, ...rest] = args.split(/\s+/);
      out.set(name!, rest.join(' '));
      continue;
    }
    for (const m of args.matchAll(/(\w+)=("[^"]*"|\S*)/g)) out.set(m[1]!, unquote(m[2]!));
  }
  return out;
}

/** Variables an image may set that are not the service's configuration. */
const TOOL_ENV = (name: string) => name === 'NODE_ENV' || name.startsWith('NPM_CONFIG_') || name === 'ONNXRUNTIME_NODE_INSTALL';

/** The exec-form CMD of a Dockerfile's last (runtime) stage. */
function dockerCmd(dockerfile: string): string[] {
  const cmd = last(readDockerfile(dockerfile).at(-1)!, 'CMD');
  assert.ok(cmd && cmd.startsWith('['), `${dockerfile}: the runtime CMD is exec form (signals reach node)`);
  return JSON.parse(cmd) as string[];
}

const IMAGES = {
  api: { dockerfile: 'api/Dockerfile', service: 'api', dir: 'api', script: 'start:api', testScript: 'test:api' },
  model: { dockerfile: 'model/Dockerfile', service: 'model', dir: 'model', script: 'start:model', testScript: 'test:model' },
} as const;

/** The packages an image's runtime stage installs: its own and, through it, the workspace ones it depends on. */
function runtimePackages(dir: string): string[] {
  const own = readPackage(dir);
  const internal = Object.keys(own.dependencies ?? {}).filter((d) => d.startsWith('@icls/'));
  return [dir, ...internal.map((d) => d.slice('@icls/'.length))];
}

/** The supported Node.js major versions: `engines` is `>=N`; images run a release at or above it. */
const minNodeMajor = Number(/^>=\s*(\d+)/.exec(pkg.engines?.node ?? '')?.[1]);

describe('docker-compose.yml', () => {
  it('names only variables lib/config.ts declares, with values it accepts', () => {
    for (const [name, svc] of Object.entries(services)) {
      const env = environmentOf(svc);
      for (const key of env.keys()) {
        assert.ok(CONFIG_NAMES.has(key), `service "${name}" sets ${key}, which lib/config.ts does not declare`);
      }
      if (name === 'redis') continue;
      assert.doesNotThrow(() => loadConfig(Object.fromEntries(env)), `service "${name}": its environment fails lib/config.ts`);
    }
    for (const name of interpolatedNames(read('docker-compose.yml').replace(/^\s*#.*$/gm, ''))) {
      assert.ok(CONFIG_NAMES.has(name), `docker-compose.yml reads \${${name}} from the host, which is not a lib/config.ts variable`);
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

describe('Dockerfiles', () => {
  for (const [name, img] of Object.entries(IMAGES)) {
    describe(img.dockerfile, () => {
      const stages = readDockerfile(img.dockerfile);
      const runtime = stages.at(-1)!;

      it('installs the workspace from the lockfile in a base stage; test, build and runtime stages follow', () => {
        assert.deepEqual(stages.map((s) => s.name), ['base', 'test', 'build', 'runtime']);
        const base = stages[0]!;
        assert.equal(last(base, 'WORKDIR'), '/app');
        const copied = all(base, 'COPY').join(' ');
        for (const f of ['package.json', 'package-lock.json', '.npmrc']) assert.ok(copied.includes(f), `base copies ${f}`);
        for (const ws of pkg.workspaces ?? []) assert.ok(copied.includes(`${ws}/package.json`), `base copies ${ws}/package.json (npm ci needs every workspace)`);
        assert.ok(all(base, 'RUN').some((r) => /^npm ci(\s|$)/.test(r)), 'base runs npm ci');
        assert.equal(stageNamed(stages, 'test').from, 'base', 'test builds on base');
        assert.equal(stageNamed(stages, 'build').from, 'base', 'build builds on base');
      });

      it('runs on a supported Node.js release, the same in every stage, the one CI tests', () => {
        const froms = stages.filter((s) => s.from.startsWith('node:')).map((s) => s.from);
        assert.equal(new Set(froms).size, 1, `one Node.js image: ${froms.join(', ')}`);
        const major = Number(/^node:(\d+)-/.exec(froms[0]!)?.[1]);
        assert.ok(major >= minNodeMajor, `${froms[0]} is at or above engines.node ${pkg.engines?.node}`);
        assert.equal(Number(/^LTS_MAJOR=(\d+)$/m.exec(read('.ci/run'))?.[1]), major, '.ci/run runs the suite on the Node.js line of the images');
      });

      it(`type-checks and runs ${img.testScript} in its test stage, scripts of package.json`, () => {
        const test = stageNamed(stages, 'test');
        const commands = [...all(test, 'RUN').flatMap((r) => r.split('&&')), ...all(test, 'CMD').map((c) => (JSON.parse(c) as string[]).join(' '))];
        const used = commands.map((r) => /^\s*npm run ([\w:-]+)/.exec(r)?.[1]).filter((s): s is string => !!s);
        assert.ok(used.includes('typecheck'), 'the test stage type-checks');
        assert.ok(used.includes(img.testScript), `the test stage runs npm run ${img.testScript}`);
        for (const s of used) assert.ok(scripts[s], `package.json has no script "${s}"`);
        assert.ok(all(test, 'COPY').includes('. .'), 'the test stage copies the sources');
        const ignored = read('.dockerignore');
        assert.ok(!/^scripts\/?$/m.test(ignored) && !/^tests\/?$/m.test(ignored), '.dockerignore keeps scripts/ and tests/ (the test stage needs them)');
      });

      it(`runs the compiled entry of npm run ${img.script} with plain node, no tsx`, () => {
        const cmd = dockerCmd(img.dockerfile);
        assert.equal(cmd.join(' '), scripts[img.script], `the ${name} image runs what \`npm run ${img.script}\` runs`);
        assert.equal(cmd[0], 'node');
        assert.ok(!cmd.includes('--import') && !cmd.some((a) => a.endsWith('.ts')), 'no TypeScript at run time');
        const entry = cmd[1]!;
        assert.match(entry, new RegExp(`^${img.dir}/dist/.+\\.js$`));
        const src = entry.replace('/dist/', '/src/').replace(/\.js$/, '.ts');
        assert.ok(existsSync(join(ROOT, src)), `${img.dockerfile}: CMD entry ${entry} is compiled from ${src}, which does not exist`);
      });

      it('installs the production dependencies of its own package only, and copies the compiled packages it needs', () => {
        const runs = all(runtime, 'RUN').join('\n');
        assert.match(runs, new RegExp(`npm ci --omit=dev --ignore-scripts --workspace @icls/${img.dir}\\b`));
        const packages = runtimePackages(img.dir);
        const copied = all(runtime, 'COPY');
        for (const p of packages) {
          assert.ok(copied.some((c) => c === `${p}/package.json ${p}/`), `the runtime stage copies ${p}/package.json`);
          assert.ok(copied.some((c) => c === `--from=build /app/${p}/dist ${p}/dist`), `the runtime stage copies ${p}/dist from the build stage`);
        }
        const build = stageNamed(stages, 'build');
        assert.ok(all(build, 'RUN').some((r) => r.startsWith(`npx tsc -b ${img.dir}`)), `the build stage compiles ${img.dir} (and its references)`);
      });

      it('runs as a non-root user in production mode, with image defaults lib/config.ts accepts', () => {
        const user = last(runtime, 'USER');
        assert.ok(user && !/^(root|0)(:|$)/.test(user), `runtime USER is non-root (got ${user})`);
        const env = envNames(runtime);
        assert.equal(env.get('NODE_ENV'), 'production');
        for (const key of env.keys()) {
          assert.ok(CONFIG_NAMES.has(key) || TOOL_ENV(key), `${img.dockerfile} sets ${key}, which lib/config.ts does not declare`);
        }
        assert.doesNotThrow(() => loadConfig(Object.fromEntries([...env].filter(([k]) => CONFIG_NAMES.has(k)))));
        const runs = all(runtime, 'RUN').join('\n');
        for (const key of ['UPLOAD_DIR', 'FEEDBACK_DIR'] as const) {
          const dir = env.get(key);
          if (dir) assert.ok(runs.includes(dir) && /chown\b/.test(runs), `${img.dockerfile}: ${key} ${dir} is created and owned by the runtime user`);
        }
        assert.ok(last(runtime, 'HEALTHCHECK'), `${img.dockerfile} has a HEALTHCHECK`);
      });
    });
  }

  it('the api package imports none of the model worker\'s heavy libraries', () => {
    const api = readPackage('api');
    for (const heavy of ['onnxruntime-node', 'sharp', 'nsfwjs', '@tensorflow/tfjs', '@icls/model']) {
      assert.ok(!api.dependencies?.[heavy], `@icls/api must not depend on ${heavy} in production`);
    }
    const model = readPackage('model');
    for (const buildOnly of ['nsfwjs', '@tensorflow/tfjs']) {
      assert.ok(!model.dependencies?.[buildOnly], `${buildOnly} is a build/test dependency of @icls/model, not a production one`);
    }
  });

  it('the api image serves the pages\' scripts compiled in its build stage (api/client → api/public/js)', () => {
    const stages = readDockerfile(IMAGES.api.dockerfile);
    assert.ok(all(stages.at(-1)!, 'COPY').includes('--from=build /app/api/public api/public'), 'the runtime stage copies api/public from the build stage');
    const apiRefs = JSON.parse(read('api/tsconfig.json').replace(/^\s*\/\/.*$/gm, '')) as { references?: { path: string }[] };
    assert.ok(apiRefs.references?.some((r) => r.path === 'client'), 'tsc -b api builds api/client too');
    const client = JSON.parse(read('api/client/tsconfig.json').replace(/^\s*\/\/.*$/gm, '')) as { compilerOptions: { outDir: string } };
    assert.equal(join('api/client', client.compilerOptions.outDir), join('api/public/js'), 'the client compiles into the folder the api serves');
    assert.ok(read('.dockerignore').split('\n').includes('api/public/js'), 'a local build of the scripts stays out of the build context');
  });

  it('the api image checks /healthz with node (no curl in slim images)', () => {
    const check = last(readDockerfile(IMAGES.api.dockerfile).at(-1)!, 'HEALTHCHECK') ?? '';
    assert.match(check, /CMD \["node", "-e", ".*fetch\(.*\/healthz/);
  });

  it('the model image builds the default model at build time and copies it where the workers look', () => {
    const stages = readDockerfile(IMAGES.model.dockerfile);
    const buildRuns = all(stageNamed(stages, 'build'), 'RUN').join('\n');
    assert.match(buildRuns, /MODELS_DIR=\/app\/models node model\/dist\/cli\/models-cli\.js ensure-default/);
    assert.equal(scripts.models, 'node model/dist/cli/models-cli.js', 'the same command as `npm run models -- ensure-default`');
    const runtime = stages.at(-1)!;
    assert.ok(all(runtime, 'COPY').includes('--from=build /app/models models'), 'the runtime stage copies the built models');
    assert.equal(envNames(runtime).get('MODELS_DIR'), '/app/models');
    assert.equal(environmentOf(service(compose, 'model')).get('MODELS_DIR'), '/app/models', 'compose points MODELS_DIR at the built models');
  });

  it('.dockerignore keeps local state and build output out of the build context', () => {
    const lines = new Set(read('.dockerignore').split('\n').map((l) => l.trim()));
    for (const p of ['node_modules', '**/node_modules', 'models', 'data', '.git', 'bench/results', '*.log', '**/dist']) {
      assert.ok(lines.has(p), `.dockerignore lists ${p}`);
    }
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
