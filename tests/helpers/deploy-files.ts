/**
 * Readers for the deployment files (compose with a real YAML parser, Dockerfiles by stage and
 * instruction) and the packages they must stay in step with, shared by the deploy-file tests.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { describeConfig } from '@icls/lib/config';
import { ROOT } from './fixtures.ts';

export const read = (rel: string) => readFileSync(join(ROOT, rel), 'utf8');
export const CONFIG_NAMES = new Set(describeConfig().map((v) => v.name));
export interface PackageJson {
  name: string;
  scripts?: Record<string, string>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  engines?: Record<string, string>;
  workspaces?: string[];
}
export const readPackage = (dir: string) => JSON.parse(read(join(dir, 'package.json'))) as PackageJson;
export const pkg = readPackage('.');
export const scripts = pkg.scripts ?? {};

// ---------------------------------------------------------------------------------------------------
// Compose files, read with a real YAML parser.

export interface ComposeService {
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
export interface Compose {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

export const compose = parseYaml(read('docker-compose.yml')) as Compose;
export const composeTest = parseYaml(read('docker-compose.test.yml')) as Compose;
export const services = compose.services;

export function service(file: Compose, name: string): ComposeService {
  const s = file.services[name];
  assert.ok(s, `compose file: no service "${name}"`);
  return s;
}

/** A service's environment as name → value, with `${NAME:-default}` replaced by its default. */
export function environmentOf(svc: ComposeService): Map<string, string> {
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

export const interpolateDefaults = (s: string) => s.replace(/\$\{(\w+)(?::?-([^}]*))?\}/g, (_m, _name, def: string | undefined) => def ?? '');
/** Names of `${NAME}` / `${NAME:-x}` / `$NAME` interpolations (the host's environment, read by Compose). */
export const interpolatedNames = (text: string) =>
  [...text.replace(/\$\$/g, '').matchAll(/\$\{?(\w+)/g)].map((m) => m[1]!).filter((n) => !/^\d/.test(n));

// ---------------------------------------------------------------------------------------------------
// Dockerfiles: stages and their instructions, continuation lines joined.

export interface Instruction {
  op: string;
  args: string;
}
export interface Stage {
  name: string;
  from: string;
  instructions: Instruction[];
}

export function readDockerfile(rel: string): Stage[] {
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

export const all = (stage: Stage, op: string) => stage.instructions.filter((i) => i.op === op).map((i) => i.args);
export const last = (stage: Stage, op: string) => all(stage, op).at(-1);
export const stageNamed = (stages: Stage[], name: string) => {
  const stage = stages.find((s) => s.name === name);
  assert.ok(stage, `no stage "${name}"`);
  return stage;
};
const unquote = (s: string) => (/^(["']).*\1$/.test(s) ? s.slice(1, -1) : s);

/** Names set by `ENV A=1 B=2` (or the old `ENV A 1`). */
export function envNames(stage: Stage): Map<string, string> {
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
export const TOOL_ENV = (name: string) => name === 'NODE_ENV' || name.startsWith('NPM_CONFIG_') || name === 'ONNXRUNTIME_NODE_INSTALL';

/** The exec-form CMD of a Dockerfile's last (runtime) stage. */
export function dockerCmd(dockerfile: string): string[] {
  const cmd = last(readDockerfile(dockerfile).at(-1)!, 'CMD');
  assert.ok(cmd && cmd.startsWith('['), `${dockerfile}: the runtime CMD is exec form (signals reach node)`);
  return JSON.parse(cmd) as string[];
}

export const IMAGES = {
  api: { dockerfile: 'api/Dockerfile', service: 'api', dir: 'api', script: 'start:api', testScript: 'test:api' },
  model: { dockerfile: 'model/Dockerfile', service: 'model', dir: 'model', script: 'start:model', testScript: 'test:model' },
} as const;

/** The packages an image's runtime stage installs: its own and, through it, the workspace ones it depends on. */
export function runtimePackages(dir: string): string[] {
  const own = readPackage(dir);
  const internal = Object.keys(own.dependencies ?? {}).filter((d) => d.startsWith('@icls/'));
  return [dir, ...internal.map((d) => d.slice('@icls/'.length))];
}

/** The supported Node.js major versions: `engines` is `>=N`; images run a release at or above it. */
export const minNodeMajor = Number(/^>=\s*(\d+)/.exec(pkg.engines?.node ?? '')?.[1]);
