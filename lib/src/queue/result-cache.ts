/**
 * The result cache: an identical upload (same MD5) for the same model and top_k is answered from it
 * for a while instead of being computed again. The queues implement it (the Redis one in Redis, shared
 * by every api process; the in-process one here); both keep the same promises: answers expire after
 * ttlS, and at most maxEntries of them and maxBytes of their JSON are held, the oldest going first.
 */
import type { Config } from '../config.ts';
import type { JobData, JobResult } from '../job-contract.ts';

/** How long answers stay cached, and how many and how many bytes of them at most. */
export interface ResultCacheBounds {
  ttlS: number;
  maxEntries: number;
  maxBytes: number;
}

/** The bounds from the configuration, or undefined when the cache is off (RESULT_CACHE_TTL_S=0). */
export function resultCacheBounds(config: Pick<Config, 'RESULT_CACHE_TTL_S' | 'RESULT_CACHE_MAX_ENTRIES' | 'RESULT_CACHE_MAX_BYTES'>): ResultCacheBounds | undefined {
  if (config.RESULT_CACHE_TTL_S === 0) return undefined;
  return { ttlS: config.RESULT_CACHE_TTL_S, maxEntries: config.RESULT_CACHE_MAX_ENTRIES, maxBytes: config.RESULT_CACHE_MAX_BYTES };
}

/**
 * Whether a job's answer may be kept under its cacheKey: only when the model build its key names computed
 * it (workers that name no build answer with their version, which is what their heartbeats gave).
 */
export function keepsAnswer(job: Pick<JobData, 'cacheVersion'>, result: Pick<JobResult, 'modelVersion' | 'modelBuild'>): boolean {
  return job.cacheVersion === undefined || job.cacheVersion === (result.modelBuild ?? result.modelVersion);
}

/** A cached answer as this request's: no model ran for it, so no model time is reported. */
export function fromCache(raw: string, id: string): JobResult {
  const result = JSON.parse(raw) as JobResult;
  return { ...result, id, cached: true, timings: { queueMs: 0, preprocessMs: 0, inferenceMs: 0 } };
}

/** The in-process cache of embedded mode: a Map kept in insertion order. */
interface Entry {
  json: string;
  expiresAt: number;
}

export class MemoryResultCache {
  private readonly entries = new Map<string, Entry>();
  private bytes = 0;

  constructor(private readonly bounds: ResultCacheBounds) {}

  /** The cached answer's JSON, or undefined (expired ones are dropped). */
  get(key: string, now = Date.now()): string | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.expiresAt > now) return e.json;
    this.drop(key, e);
    return undefined;
  }

  put(key: string, result: JobResult, now = Date.now()): void {
    const json = JSON.stringify(result);
    if (json.length > this.bounds.maxBytes) return;
    const old = this.entries.get(key);
    if (old) this.drop(key, old);
    this.entries.set(key, { json, expiresAt: now + this.bounds.ttlS * 1000 });
    this.bytes += json.length;
    for (const [k, e] of this.entries) {
      if (this.entries.size <= this.bounds.maxEntries && this.bytes <= this.bounds.maxBytes && e.expiresAt > now) break;
      this.drop(k, e);
    }
  }

  get size(): number {
    return this.entries.size;
  }

  private drop(key: string, e: Entry): void {
    this.entries.delete(key);
    this.bytes -= e.json.length;
  }
}
