/**
 * The command line of the measuring scripts that talk to Redis alone: `--url` (default REDIS_URL, else
 * the service's default, checked by REDIS_URL's own parser) and `--runs`. A mistake is said in one line
 * with the usage, and exits 2; `--help` prints the usage.
 */
import { DEFAULT_REDIS_URL, redisUrl } from '@icls/lib/config';
import { numberFlag, parseFlags, UsageError } from '@icls/lib/usage-error';

export interface RedisScriptOptions {
  url: string;
  runs: number;
}

export function redisScriptOptions(script: string, usage: string, runs: { default: number; min: number; max: number }): RedisScriptOptions {
  try {
    const { values } = parseFlags({ options: { url: { type: 'string', default: process.env.REDIS_URL || DEFAULT_REDIS_URL }, runs: { type: 'string', default: String(runs.default) }, help: { type: 'boolean' } } });
    if (values.help) {
      console.log(usage);
      process.exit(0);
    }
    let url: string | undefined;
    try {
      url = redisUrl(values.url);
    } catch (err) {
      throw new UsageError(`--url ${(err as Error).message}`);
    }
    if (!url) throw new UsageError('--url needs a value');
    return { url, runs: numberFlag('--runs', values.runs, { min: runs.min, max: runs.max, integer: true })! };
  } catch (err) {
    console.error(err instanceof UsageError ? `${script}: ${err.message}\n${usage}` : err);
    process.exit(2);
  }
}
