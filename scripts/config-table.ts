/** Prints the README's configuration table from lib/config.ts, the single source of the variables. */
import { describeConfig } from '../lib/config.ts';

const cell = (s: string) => s.replace(/\|/g, '\\|');
console.log('| variable | default | meaning |\n|---|---|---|');
for (const v of describeConfig()) console.log(`| \`${v.name}\` | ${v.default === '' ? '(unset)' : `\`${cell(v.default)}\``} | ${cell(v.doc)} |`);
