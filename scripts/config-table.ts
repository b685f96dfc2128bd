/** The README's configuration table, generated from lib/src/config.ts (the single list of variables). */
import { describeConfig } from '@icls/lib/config';

const cell = (s: string) => s.replace(/\|/g, '\\|');

export function configTable(): string {
  const rows = describeConfig().map(
    (v) => `| \`${v.name}\` | ${v.default === '' ? '(unset)' : `\`${cell(v.default)}\``} | ${cell(v.doc)} |`,
  );
  return ['| variable | default | meaning |', '|---|---|---|', ...rows].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(configTable());
