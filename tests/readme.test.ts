/** The README is the user's manual: its config table and commands must match the code. */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { it } from 'node:test';
import { ERRORS } from '@icls/lib/errors';
import { parseModelConfig } from '@icls/model/repository/model-config';
import { configTable } from '../scripts/config-table.ts';
import { ROOT } from './helpers/fixtures.ts';

const readme = () => readFile(join(ROOT, 'README.md'), 'utf8');

it('the README config table is the one generated from lib/src/config.ts', async () => {
  const text = await readme();
  const table = text.split('<!-- config-table:start -->\n')[1]?.split('\n<!-- config-table:end -->')[0];
  assert.ok(table, 'README has no config-table markers');
  assert.equal(table, configTable(), 'run: node --conditions=source --import tsx scripts/config-table.ts, and paste it into the README');
});

it('every `npm run <script>` and `npm <cmd>` the README shows exists', async () => {
  const text = await readme();
  const scripts = Object.keys((JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts);
  const used = [...text.matchAll(/npm run (?:-s )?([a-z:]+)/g)].map((m) => m[1]!);
  assert.ok(used.length > 3);
  for (const s of used) assert.ok(scripts.includes(s), `README uses "npm run ${s}", which package.json lacks`);
  for (const s of ['start', 'test']) assert.ok(scripts.includes(s));
});

it('the README error table has every code of lib/src/errors.ts, with its status', async () => {
  const text = await readme();
  const rows = new Map([...text.matchAll(/^\| (\d{3}) \| `([A-Z_]+)` \|/gm)].map((m) => [m[2]!, Number(m[1])]));
  for (const [code, { status }] of Object.entries(ERRORS)) {
    assert.equal(rows.get(code), status, `the README error table has no row "| ${status} | \`${code}\` |"`);
  }
});

it("the README's sample config.json is a valid model config, as it stands", async () => {
  const text = await readme();
  const sample = text.match(/```json\n(\{\n {2}"name": "my-classifier",[\s\S]*?\n\})\n```/)?.[1];
  assert.ok(sample, 'the README has no sample config.json for "my-classifier"');
  const config = parseModelConfig(JSON.parse(sample), 'README sample');
  assert.equal(config.name, 'my-classifier');
});
