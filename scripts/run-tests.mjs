// Runs node's test runner over every *.test.ts under the given folders (all by default), or given files.
// It builds first: end-to-end tests start the compiled entry points, as users run them, while test
// files themselves run from TypeScript through tsx, importing the packages' sources (the "source"
// export condition). Node 20's --test takes no glob patterns, hence the walk.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

const roots = process.argv.slice(2).length ? process.argv.slice(2) : ['lib', 'api', 'model', 'tests'];
const skip = new Set(['node_modules', 'models', 'fixtures', 'dist']);
function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    if (skip.has(name)) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}
const files = roots.flatMap((r) => (statSync(r).isDirectory() ? walk(r, []) : [r])).sort();
if (files.length === 0) {
  console.error(`no test files under ${roots.join(', ')}`);
  process.exit(1);
}

// Two test files at a time by default: most of an end-to-end file's time is spent waiting on the
// processes it started, so two overlap well (a third buys nothing on 2 cores). TEST_CONCURRENCY=1 runs
// them one by one.
const concurrency = process.env.TEST_CONCURRENCY ?? '2';

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const build = spawnSync(process.execPath, [tsc, '-b', 'tsconfig.build.json'], { stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);

const r = spawnSync(
  process.execPath,
  ['--conditions=source', '--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, ...files],
  { stdio: 'inherit' },
);
process.exit(r.status ?? 1);
