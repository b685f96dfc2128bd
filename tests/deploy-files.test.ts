/**
 * Keeps the deployment files in step with the code: docker-compose.yml, docker-compose.test.yml,
 * api/Dockerfile, model/Dockerfile and .dockerignore, checked against lib/config.ts, package.json
 * and the source tree. Without a Docker engine these files are otherwise only read by people, so a
 * renamed variable, entry file or npm script would break the images silently.
 *
 * No YAML package: the compose files are read by a small indentation-based reader that knows the
 * subset they use (nested mappings, `- item` lists, scalars), which the checks below rely on.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { describeConfig, loadConfig } from '../lib/config.ts';
import { ROOT } from './helpers/fixtures.ts';

const read = (rel: string) => readFileSync(join(ROOT, rel), 'utf8');
const CONFIG_NAMES = new Set(describeConfig().map((v) => v.name));
const pkg = JSON.parse(read('package.json')) as {
  scripts: Record<string, string>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
};

// ---------------------------------------------------------------------------------------------------
// A reader for the YAML subset of the compose files.

interface YamlNode {
  /** The text after `key:` on the key's own line ('' when the value is a nested block). */
  value: string;
  children: Map<string, YamlNode>;
  /** `- item` entries of a block list, as text. */
  items: string[];
}

function readYamlOutline(text: string): YamlNode {
  const root: YamlNode = { value: '', children: new Map(), items: [] };
  const stack: { indent: number; node: YamlNode }[] = [{ indent: -1, node: root }];
  for (const raw of text.split('\n')) {
    if (/^\s*(#.*)?$/.test(raw)) continue;
    const indent = raw.length - raw.trimStart().length;
    const line = raw.trim();
    while (stack.length > 1 && stack.at(-1)!.indent >= indent) stack.pop();
    const parent = stack.at(-1)!.node;
    if (line.startsWith('- ')) {
      parent.items.push(unquote(stripComment(line.slice(2))));
      continue;
    }
    const m = /^([\w.-]+):(?:\s+(.*))?$/.exec(line);
    assert.ok(m, `compose reader: cannot read the line "${raw}"`);
    const node: YamlNode = { value: unquote(stripComment(m[2] ?? '')), children: new Map(), items: [] };
    parent.children.set(m[1]!, node);
    stack.push({ indent, node });
  }
  return root;
}

const stripComment = (s: string) => s.replace(/\s+#.*$/, '').trim();
const unquote = (s: string) => (/^(["']).*\1$/.test(s) ? s.slice(1, -1) : s);

function child(node: YamlNode, ...path: string[]): YamlNode {
  let n = node;
  for (const key of path) {
    const next = n.children.get(key);
    assert.ok(next, `compose file: no "${path.join('.')}"`);
    n = next;
  }
  return n;
}

/** A service's environment as name → value, with `${NAME:-default}` replaced by its default. */
function environmentOf(service: YamlNode): Map<string, string> {
  const env = service.children.get('environment');
  const out = new Map<string, string>();
  if (!env) return out;
  for (const [name, node] of env.children) out.set(name, interpolateDefaults(node.value));
  for (const item of env.items) {
    const [name, ...rest] = item.split('=');
    out.set(name!, interpolateDefaults(rest.join('=')));
  }
  return out;
}

const interpolateDefaults = (s: string) => s.replace(/\$\{(\w+)(?::?-([^}]*))?\}/g, (_m, _name, def: string | undefined) => def ?? '');
/** Names of `${NAME}` / `${NAME:-x}` / `$NAME` interpolations (the host's environment, read by Compose). */
const interpolatedNames = (text: string) =>
  [...text.replace(/\$\$/g, '').matchAll(/\$\{?(\w+)/g)].map((m) => m[1]!).filter((n) => !/^\d/.test(n));

/** The flow list `["a", "b"]` of a healthcheck `test:` or `command:`. */
const flowList = (s: string): string[] => JSON.parse(s) as string[];

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
const TOOL_ENV = (name: string) => name === 'NODE_ENV' || name.startsWith('NPM_CONFIG_');

const compose = readYamlOutline(read('docker-compose.yml'));
const composeTest = readYamlOutline(read('docker-compose.test.yml'));
const services = child(compose, 'services').children;

const IMAGES = {
  api: { dockerfile: 'api/Dockerfile', service: 'api', script: 'start:api', testScript: 'test:api' },
  model: { dockerfile: 'model/Dockerfile', service: 'model', script: 'start:model', testScript: 'test:model' },
} as const;

describe('docker-compose.yml', () => {
  it('names only variables lib/config.ts declares, with values it accepts', () => {
    for (const [name, service] of services) {
      const env = environmentOf(service);
      for (const key of env.keys()) {
        assert.ok(CONFIG_NAMES.has(key), `service "${name}" sets ${key}, which lib/config.ts does not declare (known: ${[...CONFIG_NAMES].join(', ')})`);
      }
      if (name === 'redis') continue;
      // The values (with Compose's defaults) pass the service's own validation.
      assert.doesNotThrow(() => loadConfig(Object.fromEntries(env)), `service "${name}": its environment fails lib/config.ts`);
    }
    for (const name of interpolatedNames(read('docker-compose.yml').replace(/^\s*#.*$/gm, ''))) {
      assert.ok(CONFIG_NAMES.has(name), `docker-compose.yml reads \${${name}} from the host, which is not a lib/config.ts variable`);
    }
  });

  it('runs the api and the model workers in Redis mode on the compose Redis', () => {
    for (const name of ['api', 'model']) {
      const env = environmentOf(child(compose, 'services', name));
      assert.equal(env.get('QUEUE_MODE'), 'redis', `${name}: QUEUE_MODE`);
      assert.equal(env.get('REDIS_URL'), 'redis://redis:6379', `${name}: REDIS_URL`);
      assert.equal(child(compose, 'services', name, 'depends_on', 'redis', 'condition').value, 'service_healthy', `${name} waits for a healthy Redis`);
    }
    assert.deepEqual(flowList(child(compose, 'services', 'redis', 'healthcheck', 'test').value), ['CMD', 'redis-cli', 'ping']);
  });

  it('builds each service from its Dockerfile, with a target that exists there', () => {
    for (const { dockerfile, service } of Object.values(IMAGES)) {
      const build = child(compose, 'services', service, 'build');
      assert.equal(build.children.get('context')?.value, '.', `${service}: build context is the repository root`);
      assert.equal(build.children.get('dockerfile')?.value, dockerfile);
      const stages = readDockerfile(dockerfile);
      assert.equal(build.children.get('target')?.value, stages.at(-1)!.name, `${service}: builds the runtime stage, the last of ${dockerfile}`);
    }
    for (const [name, service] of child(composeTest, 'services').children) {
      const build = service.children.get('build');
      if (!build) continue;
      const dockerfile = child(build, 'dockerfile').value;
      assert.ok(existsSync(join(ROOT, dockerfile)), `docker-compose.test.yml ${name}: no ${dockerfile}`);
      const target = child(build, 'target').value;
      assert.ok(readDockerfile(dockerfile).some((s) => s.name === target), `docker-compose.test.yml ${name}: ${dockerfile} has no stage "${target}"`);
    }
  });

  it('shares the uploads volume: the api writes it, workers read it at the same UPLOAD_DIR', () => {
    const mounts = (service: string) =>
      (child(compose, 'services', service).children.get('volumes')?.items ?? []).map((v) => {
        const [source, target, mode] = v.split(':');
        return { source: source!, target: target!, mode: mode ?? 'rw' };
      });
    const uploadsOf = (service: string) => {
      const dir = environmentOf(child(compose, 'services', service)).get('UPLOAD_DIR');
      const mount = mounts(service).find((m) => m.target === dir);
      assert.ok(mount, `${service}: UPLOAD_DIR ${dir} is not on a volume`);
      return mount;
    };
    const api = uploadsOf('api');
    const model = uploadsOf('model');
    assert.equal(api.source, 'uploads');
    assert.equal(model.source, api.source, 'api and model mount the same named volume for uploads');
    assert.equal(api.mode, 'rw');
    assert.equal(model.mode, 'ro', 'workers only read uploads');
    const feedbackDir = environmentOf(child(compose, 'services', 'api')).get('FEEDBACK_DIR');
    assert.ok(mounts('api').some((m) => m.source === 'feedback' && m.target === feedbackDir), 'FEEDBACK_DIR is on the feedback volume');
    const declared = child(compose, 'volumes').children;
    assert.ok(declared.has('uploads') && declared.has('feedback'), 'uploads and feedback are declared named volumes');
  });

  it('publishes the api port the api listens on, and lets the model scale', () => {
    const api = child(compose, 'services', 'api');
    const port = environmentOf(api).get('PORT') ?? describeConfig().find((v) => v.name === 'PORT')!.default;
    assert.deepEqual(child(api, 'ports').items, [`80:${port}`]);
    const apiStages = readDockerfile(IMAGES.api.dockerfile);
    assert.equal(last(apiStages.at(-1)!, 'EXPOSE'), port, 'api/Dockerfile EXPOSEs the port');
    const model = child(compose, 'services', 'model');
    for (const key of ['container_name', 'ports']) {
      assert.ok(!model.children.has(key), `model has no ${key}, so \`--scale model=N\` works`);
    }
    assert.ok(model.children.has('stop_grace_period'), 'model: a stop grace period lets jobs drain');
  });

  it('checks liveness, not readiness, in the api container; the model check matches the worker entry', () => {
    const apiTest = flowList(child(compose, 'services', 'api', 'healthcheck', 'test').value).join(' ');
    assert.match(apiTest, /\/healthz/);
    assert.doesNotMatch(apiTest, /\/readyz/, '/readyz is 503 until a worker is up: not for the container healthcheck');
    const modelTest = flowList(child(compose, 'services', 'model', 'healthcheck', 'test').value).join(' ');
    const pattern = /'([^']+)'/.exec(modelTest)?.[1];
    assert.ok(pattern, `model healthcheck: no quoted grep pattern in ${modelTest}`);
    const workerCmd = dockerCmd(IMAGES.model.dockerfile).join(' ');
    assert.match(workerCmd, new RegExp(pattern), 'the model healthcheck looks for the process the image runs');
    const imageCheck = last(readDockerfile(IMAGES.model.dockerfile).at(-1)!, 'HEALTHCHECK') ?? '';
    assert.ok(imageCheck.includes(pattern), 'model/Dockerfile HEALTHCHECK looks for the same process');
  });
});

/** The exec-form CMD of a Dockerfile's last (runtime) stage. */
function dockerCmd(dockerfile: string): string[] {
  const cmd = last(readDockerfile(dockerfile).at(-1)!, 'CMD');
  assert.ok(cmd && cmd.startsWith('['), `${dockerfile}: the runtime CMD is exec form (signals reach node)`);
  return JSON.parse(cmd) as string[];
}

describe('Dockerfiles', () => {
  for (const [name, img] of Object.entries(IMAGES)) {
    describe(img.dockerfile, () => {
      const stages = readDockerfile(img.dockerfile);
      const runtime = stages.at(-1)!;

      it('has a base stage that installs from the lockfile, and test + runtime stages', () => {
        assert.deepEqual(
          stages.map((s) => s.name),
          ['base', 'test', 'runtime'],
        );
        const base = stages[0]!;
        assert.match(base.from, /^node:20-bookworm-slim$/);
        assert.equal(last(base, 'WORKDIR'), '/app');
        const copied = all(base, 'COPY').join(' ');
        for (const f of ['package.json', 'package-lock.json', '.npmrc']) assert.ok(copied.includes(f), `base copies ${f}`);
        assert.ok(all(base, 'RUN').some((r) => /^npm ci(\s|$)/.test(r)), 'base runs npm ci');
        assert.equal(stages[1]!.from, 'base', 'test builds on base');
      });

      it(`runs ${img.testScript} in its test stage, a script of package.json`, () => {
        const test = stages.find((s) => s.name === 'test')!;
        const scripts = [...all(test, 'RUN'), ...all(test, 'CMD').flatMap((c) => [(JSON.parse(c) as string[]).join(' ')])]
          .map((r) => /^npm run ([\w:-]+)/.exec(r)?.[1])
          .filter((s): s is string => !!s);
        assert.ok(scripts.includes(img.testScript), `the test stage runs npm run ${img.testScript}`);
        for (const s of scripts) assert.ok(pkg.scripts[s], `package.json has no script "${s}"`);
        // The folders the test script names are in the image.
        for (const arg of pkg.scripts[img.testScript]!.split(/\s+/).slice(2)) {
          if (!arg.endsWith('.mjs')) assert.ok(existsSync(join(ROOT, arg)), `${img.testScript} names ${arg}, which does not exist`);
        }
        const ignored = read('.dockerignore');
        assert.ok(all(test, 'COPY').includes('. .'), 'the test stage copies the sources');
        assert.ok(!/^scripts\/?$/m.test(ignored) && !/^tests\/?$/m.test(ignored), '.dockerignore keeps scripts/ and tests/ (the test stage needs them)');
      });

      it(`runs the same command as npm run ${img.script}, from a file that exists`, () => {
        const cmd = dockerCmd(img.dockerfile);
        assert.equal(cmd.join(' '), pkg.scripts[img.script], `the ${name} image runs what \`npm run ${img.script}\` runs`);
        const entry = cmd.find((a) => a.endsWith('.ts'));
        assert.ok(entry && existsSync(join(ROOT, entry)), `${img.dockerfile}: CMD entry ${entry} does not exist`);
        const copiedDirs = all(runtime, 'COPY').map((c) => c.split(/\s+/)[0]!);
        assert.ok(copiedDirs.includes(entry.split('/')[0]!), `the runtime stage copies ${entry.split('/')[0]}/`);
      });

      it('installs production dependencies only, and every package the CMD loads is one of them', () => {
        const runs = all(runtime, 'RUN').join('\n');
        assert.match(runs, /npm ci --omit=dev/);
        const imports = dockerCmd(img.dockerfile).flatMap((a, i, cmd) => (a === '--import' ? [cmd[i + 1]!] : []));
        for (const p of imports) {
          assert.ok(
            pkg.dependencies?.[p],
            `the ${name} image runs "node --import ${p}" after "npm ci --omit=dev", so ${p} must be in package.json "dependencies"` +
              (pkg.devDependencies?.[p] ? ` (it is a devDependency: run \`npm install --save-prod ${p}\`)` : ''),
          );
        }
      });

      it('runs as a non-root user in production mode, with image defaults lib/config.ts accepts', () => {
        const user = last(runtime, 'USER');
        assert.ok(user && !/^(root|0)(:|$)/.test(user), `runtime USER is non-root (got ${user})`);
        const env = envNames(runtime);
        assert.equal(env.get('NODE_ENV'), 'production');
        for (const key of env.keys()) {
          assert.ok(CONFIG_NAMES.has(key) || TOOL_ENV(key), `${img.dockerfile} sets ${key}, which lib/config.ts does not declare`);
        }
        const config = Object.fromEntries([...env].filter(([k]) => CONFIG_NAMES.has(k)));
        assert.doesNotThrow(() => loadConfig(config));
        // The data folders the runtime user writes are created for it (a new named volume takes their owner).
        const runs = all(runtime, 'RUN').join('\n');
        for (const key of ['UPLOAD_DIR', 'FEEDBACK_DIR'] as const) {
          const dir = env.get(key);
          if (dir) assert.ok(runs.includes(dir) && /chown\b/.test(runs), `${img.dockerfile}: ${key} ${dir} is created and owned by the runtime user`);
        }
        assert.ok(last(runtime, 'HEALTHCHECK'), `${img.dockerfile} has a HEALTHCHECK`);
      });
    });
  }

  it('the api image checks /healthz with node (no curl in slim images)', () => {
    const check = last(readDockerfile(IMAGES.api.dockerfile).at(-1)!, 'HEALTHCHECK') ?? '';
    assert.match(check, /CMD \["node", "-e", ".*fetch\(.*\/healthz/);
  });

  it('the model image builds the default model at build time, where the workers look for it', () => {
    const runtime = readDockerfile(IMAGES.model.dockerfile).at(-1)!;
    const importRun = all(runtime, 'RUN').find((r) => r.includes('models-cli.ts import'));
    assert.ok(importRun, 'model/Dockerfile imports the default model');
    const cli = /(model\/src\/cli\/models-cli\.ts)/.exec(importRun)![1]!;
    assert.ok(existsSync(join(ROOT, cli)));
    assert.match(importRun, new RegExp(`^node --import tsx ${cli} import mobilenetv2`), 'the same command as `npm run models -- import mobilenetv2`');
    assert.equal(pkg.scripts.models, `node --import tsx ${cli}`);
    const modelsDir = envNames(runtime).get('MODELS_DIR');
    assert.equal(modelsDir, '/app/models');
    assert.equal(environmentOf(child(compose, 'services', 'model')).get('MODELS_DIR'), modelsDir, 'compose points MODELS_DIR at the built models');
  });

  it('.dockerignore keeps local state out of the build context', () => {
    const lines = new Set(read('.dockerignore').split('\n').map((l) => l.trim()));
    for (const p of ['node_modules', 'models', 'data', '.git', 'bench/results', '*.log']) assert.ok(lines.has(p), `.dockerignore lists ${p}`);
  });
});

describe('docker-compose.test.yml', () => {
  it('runs the test targets with the scripts their Dockerfiles run', () => {
    const tests = child(composeTest, 'services').children;
    for (const img of Object.values(IMAGES)) {
      const entry = [...tests.values()].find((s) => s.children.get('build')?.children.get('dockerfile')?.value === img.dockerfile);
      assert.ok(entry, `docker-compose.test.yml builds ${img.dockerfile}`);
      assert.equal(child(entry, 'build', 'target').value, 'test');
      assert.deepEqual(flowList(child(entry, 'command').value), ['npm', 'run', img.testScript]);
      for (const key of environmentOf(entry).keys()) {
        // Test suites read TEST_REDIS_URL (tests/helpers/processes.ts); anything else must be configuration.
        assert.ok(CONFIG_NAMES.has(key) || (key === 'TEST_REDIS_URL' && read('tests/helpers/processes.ts').includes(key)), `docker-compose.test.yml sets unknown ${key}`);
      }
    }
  });
});
