/**
 * Turns a stored upload into a prediction: picks the model, builds the job, waits for the result.
 * Knows nothing of HTTP; throws AppErrors.
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { pickDefaultModel } from '@icls/lib/default-model';
import { AppError } from '@icls/lib/errors';
import type { JobProducer, JobResult } from '@icls/lib/job-contract';
import type { StoredUpload } from './upload/upload-store.ts';

export interface PredictOptions {
  model?: string;
  topK: number;
  /** Epoch ms when the request arrived: totalMs counts from here. */
  receivedAt: number;
  /**
   * Epoch ms the deadline (REQUEST_TIMEOUT_MS) counts from: when the upload had been received, so a
   * slow uplink is not charged to the model (receiving has its own limit). Default: receivedAt.
   */
  deadlineFrom?: number;
}

export interface PredictOutcome {
  result: JobResult;
  totalMs: number;
}

export interface PredictServiceConfig {
  defaultModel?: string;
  timeoutMs: number;
  imageTransport: 'path' | 'bytes';
}

/** Served models change only when workers come and go; one Redis read per second is plenty. */
const SERVED_CACHE_MS = 1000;
/** When a named model is missing from the cache, a list this fresh is trusted. */
const FRESH_ENOUGH_MS = 100;

export class PredictService {
  private served?: { at: number; models: Promise<Map<string, number>> };

  constructor(
    private readonly producer: JobProducer,
    private readonly config: PredictServiceConfig,
  ) {}

  /** Models with at least one live worker, and how many workers hold each (at most `maxAgeMs` old). */
  servedModels(maxAgeMs = SERVED_CACHE_MS): Promise<Map<string, number>> {
    const now = Date.now();
    if (!this.served || now - this.served.at > maxAgeMs) {
      const models = this.producer.servedModels();
      this.served = { at: now, models };
      models.catch(() => (this.served = undefined));
    }
    return this.served.models;
  }

  async defaultModel(): Promise<string | undefined> {
    return pickDefaultModel(this.config.defaultModel, (await this.servedModels()).keys());
  }

  /**
   * Refuses at once (503) when the queue of the model the request will most likely use is full, so
   * the api does not read, hash and store uploads it cannot serve. A named model no worker holds is
   * refused here too (404): only served names ever reach the queue's admission state, so client
   * input cannot grow it.
   */
  async rejectIfFull(modelHint: string | undefined): Promise<void> {
    if (modelHint) await this.requireServed(modelHint);
    const model = modelHint ?? (await this.defaultModel());
    if (model && !(await this.producer.admits(model))) {
      throw new AppError('QUEUE_FULL', `the queue for model ${model} is full`, { retryAfterS: 1 });
    }
  }

  private async requireServed(model: string): Promise<void> {
    if ((await this.servedModels()).has(model)) return;
    const served = await this.servedModels(FRESH_ENOUGH_MS);
    if (!served.has(model)) throw new AppError('UNKNOWN_MODEL', `"${model}"; served: ${[...served.keys()].join(', ') || 'none'}`);
  }

  async predict(upload: StoredUpload, opts: PredictOptions): Promise<PredictOutcome> {
    let served = await this.servedModels();
    // A worker that just started may not be in the cached list yet: look again before refusing.
    if (opts.model && !served.has(opts.model)) served = await this.servedModels(FRESH_ENOUGH_MS);
    const model = opts.model ?? pickDefaultModel(this.config.defaultModel, served.keys());
    if (!model) throw new AppError('NOT_READY', 'no model worker is running yet', { retryAfterS: 2 });
    if (!served.has(model)) {
      if (opts.model) throw new AppError('UNKNOWN_MODEL', `"${model}"; served: ${[...served.keys()].join(', ') || 'none'}`);
      throw new AppError('NOT_READY', `no worker holds the default model "${model}"`, { retryAfterS: 2 });
    }
    const result = await this.producer.submit({
      id: randomUUID(),
      image: upload.name,
      imageBase64: this.config.imageTransport === 'bytes' ? (await readFile(upload.path)).toString('base64') : undefined,
      model,
      deadline: (opts.deadlineFrom ?? opts.receivedAt) + this.config.timeoutMs,
      enqueuedAt: Date.now(),
      topK: opts.topK,
    });
    return { result, totalMs: Date.now() - opts.receivedAt };
  }
}
