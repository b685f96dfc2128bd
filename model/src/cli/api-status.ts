/**
 * Asks the running api which models it serves, so `models list` can say whether a folder on disk is
 * actually loaded. The api may well be down while models are managed; that is a normal answer here.
 */
import { UsageError } from '@icls/lib/usage-error';
import { describeCause } from '../pull/download-errors.ts';
import { httpUrlFromEnv } from './cli-support.ts';

/** Default address of the api, as `npm start` binds it. */
export const DEFAULT_API_URL = 'http://127.0.0.1:8080';

/**
 * The api `list` and `info` ask: `API_URL`; else this host on `PORT`, as the api was started with the
 * same environment (before, a user running `PORT=18601 npm start` and `PORT=18601 npm run models -- list`
 * was told "api not running"); else DEFAULT_API_URL. A value that is no http(s) address is a usage error,
 * not an api that does not answer.
 */
export function apiUrlOf(env: Readonly<Record<string, string | undefined>>): string {
  const given = httpUrlFromEnv(env, 'API_URL');
  if (given) return given;
  const port = env.PORT;
  if (!port) return DEFAULT_API_URL;
  if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) {
    throw new UsageError(`PORT (the api's port, asked when API_URL is not set) must be a number from 1 to 65535, got ${JSON.stringify(port.slice(0, 100))}`);
  }
  return `http://127.0.0.1:${Number(port)}`;
}
/** Short: a listing must not hang because the api is slow or a firewall drops packets. */
export const API_TIMEOUT_MS = 500;

export type ApiStatus =
  /**
   * `broken`: models a live worker could not load, with the reason it gave. `builds`: per served model,
   * the builds its workers hold (see `modelBuild`); absent for a model when the api did not say.
   */
  | { reachable: true; workers: Map<string, number>; broken: Map<string, string>; builds: Map<string, ReadonlySet<string>>; defaultModel?: string }
  /** `reason` is for the table; `detail` is the underlying error, for DEBUG output. */
  | { reachable: false; reason: string; detail?: string };

/** GET `${apiUrl}/v1/models` → `{default?, models:[{name, workers, versions?}], broken?:[{name, reason}]}`; never throws. */
export async function fetchServedModels(apiUrl: string, fetchImpl: typeof fetch = fetch): Promise<ApiStatus> {
  const url = `${apiUrl.replace(/\/+$/, '')}/v1/models`;
  let response: Response;
  try {
    response = await fetchImpl(url, { signal: AbortSignal.timeout(API_TIMEOUT_MS) });
  } catch (err) {
    // A connection that was taken but not answered is an api that runs and hangs (or a firewall dropping
    // packets), not one that is down: "not running" sent users to start a second one.
    const timedOut = err instanceof Error && err.name === 'TimeoutError';
    return { reachable: false, reason: timedOut ? `api did not answer within ${API_TIMEOUT_MS / 1000} s` : 'api not running', detail: `${url}: ${describeCause(err)}` };
  }
  if (!response.ok) {
    await response.body?.cancel();
    return { reachable: false, reason: `api answered HTTP ${response.status}` };
  }
  // A body that is not JSON is reported below as an unexpected body, like JSON of the wrong shape.
  const body = (await response.json().catch(() => undefined)) as { models?: unknown; default?: unknown; broken?: unknown } | undefined;
  if (!body || !Array.isArray(body.models)) return { reachable: false, reason: 'api answered an unexpected body' };
  const workers = new Map<string, number>();
  const builds = new Map<string, ReadonlySet<string>>();
  for (const m of body.models as { name?: unknown; workers?: unknown; versions?: unknown }[]) {
    if (typeof m?.name !== 'string') continue;
    workers.set(m.name, typeof m.workers === 'number' ? m.workers : 0);
    // An older api sends no versions: then nothing is said about them.
    const versions = Array.isArray(m.versions) ? m.versions.filter((v): v is string => typeof v === 'string') : [];
    if (versions.length > 0) builds.set(m.name, new Set(versions));
  }
  const broken = new Map<string, string>();
  for (const b of (Array.isArray(body.broken) ? body.broken : []) as { name?: unknown; reason?: unknown }[]) {
    if (typeof b?.name === 'string') broken.set(b.name, typeof b.reason === 'string' ? b.reason : 'no reason given');
  }
  return { reachable: true, workers, broken, builds, ...(typeof body.default === 'string' ? { defaultModel: body.default } : {}) };
}

/**
 * `yes (2 workers)`, `yes (1 worker, default)`, `no`, `FAILED on a worker`, or `? (api not running)`;
 * given the build of the files in the folder now (`modelBuild`), a served model whose workers loaded
 * other files (replaced since) says so, as they answer with what they loaded until restarted.
 */
export function loadedColumn(status: ApiStatus, name: string, folderBuild?: string): string {
  if (!status.reachable) return `? (${status.reason})`;
  const n = status.workers.get(name) ?? 0;
  const isDefault = status.defaultModel === name ? ', default' : '';
  const failed = status.broken.has(name) ? 'FAILED on a worker' : '';
  if (n > 0) return `yes (${n} worker${n === 1 ? '' : 's'}${isDefault})${staleNote(status.builds.get(name), folderBuild)}${failed ? `, ${failed}` : ''}`;
  return failed || 'no';
}

/** What the workers hold against the folder's files: nothing to say when they match or either is unknown. */
function staleNote(held: ReadonlySet<string> | undefined, folderBuild: string | undefined): string {
  if (!held || folderBuild === undefined || (held.size === 1 && held.has(folderBuild))) return '';
  return `, ${held.has(folderBuild) ? 'some ' : ''}from the files this folder held before: restart the workers to serve the new ones`;
}
