/**
 * Keeps api/Dockerfile and model/Dockerfile in step with the workspace packages: stages, the Node.js
 * line CI tests, compiled entries only, each image installing only its own package's production
 * dependencies, non-root runtime, healthchecks, the default model built at image build time.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '@icls/lib/config';
import { ROOT } from './helpers/fixtures.ts';
import {
  all, CONFIG_NAMES, compose, dockerCmd, environmentOf, envNames, IMAGES, last, minNodeMajor, pkg, read, readDockerfile, readPackage, runtimePackages, scripts, service, stageNamed, TOOL_ENV,
} from './helpers/deploy-files.ts';

/** The test files under a package's src/, relative to the repository's root. */
function testFilesOf(dir: string): string[] {
  return readdirSync(join(ROOT, dir, 'src'), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.test.ts'))
    .map((f) => join(dir, 'src', f));
}

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

      it('installs redis-server in its test stage when its tests start a private one (the node image has none)', () => {
        const starters = testFilesOf(img.dir).filter((f) => read(f).includes('startPrivateRedis('));
        const installs = all(stageNamed(stages, 'test'), 'RUN').some((r) => /apt-get install[^&]*\sredis-server(\s|$)/.test(r));
        assert.equal(installs, starters.length > 0, starters.length ? `${starters.join(', ')} start redis-server: the test stage must install it` : 'no test starts redis-server: the test stage need not install it');
      });

      it(`runs the compiled entry of npm run ${img.script} with plain node, no tsx`, () => {
        const cmd = dockerCmd(img.dockerfile);
        // The script `exec`s node (so a signal to npm reaches it); the image runs node itself.
        assert.equal(cmd.join(' '), scripts[img.script]!.replace(/^exec /, ''), `the ${name} image runs what \`npm run ${img.script}\` runs`);
        assert.equal(cmd[0], 'node');
        assert.ok(!cmd.includes('--import') && !cmd.some((a) => a.endsWith('.ts')), 'no TypeScript at run time');
        // node, its V8 flags (e.g. --initial-old-space-size), then the compiled entry.
        assert.ok(cmd.slice(1, -1).every((a) => a.startsWith('--')), `only node flags come before the entry: ${cmd.join(' ')}`);
        const entry = cmd.at(-1)!;
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
          // Files read at run time sit beside src/ and dist/: public/ (served assets), data/ (bundled data).
          for (const assets of ['public', 'data']) {
            if (!existsSync(join(ROOT, p, assets))) continue;
            const copiesIt = [`${p}/${assets} ${p}/${assets}`, `--from=build /app/${p}/${assets} ${p}/${assets}`].some((c) => copied.includes(c));
            assert.ok(copiesIt, `the runtime stage copies ${p}/${assets}`);
          }
        }
        const build = stageNamed(stages, 'build');
        assert.ok(all(build, 'RUN').some((r) => r.startsWith(`npx tsc -b ${img.dir}`)), `the build stage compiles ${img.dir} (and its references)`);
      });

      it('runs as a non-root user in production mode, with image defaults lib/src/config.ts accepts', () => {
        const user = last(runtime, 'USER');
        assert.ok(user && !/^(root|0)(:|$)/.test(user), `runtime USER is non-root (got ${user})`);
        const env = envNames(runtime);
        assert.equal(env.get('NODE_ENV'), 'production');
        for (const key of env.keys()) {
          assert.ok(CONFIG_NAMES.has(key) || TOOL_ENV(key), `${img.dockerfile} sets ${key}, which lib/src/config.ts does not declare`);
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

describe('the api image\'s browser scripts', () => {
  it('serves the pages\' scripts compiled in its build stage (api/client → api/public/js)', () => {
    const stages = readDockerfile(IMAGES.api.dockerfile);
    assert.ok(all(stages.at(-1)!, 'COPY').includes('--from=build /app/api/public api/public'), 'the runtime stage copies api/public from the build stage');
    const apiRefs = JSON.parse(read('api/tsconfig.json').replace(/^\s*\/\/.*$/gm, '')) as { references?: { path: string }[] };
    assert.ok(apiRefs.references?.some((r) => r.path === 'client'), 'tsc -b api builds api/client too');
    const client = JSON.parse(read('api/client/tsconfig.json').replace(/^\s*\/\/.*$/gm, '')) as { compilerOptions: { outDir: string } };
    assert.equal(join('api/client', client.compilerOptions.outDir), join('api/public/js'), 'the client compiles into the folder the api serves');
    assert.ok(read('.dockerignore').split('\n').includes('api/public/js'), 'a local build of the scripts stays out of the build context');
  });
});
