/**
 * One loaded model: config-driven preprocessing → ONNX Runtime → softmax (for logits) → top-k.
 */
import { decodeRgb, imageDecodeBytes, type ResizePlan } from './image/image.ts';
import type { DecodeBudget } from './image/decode-budget.ts';
import { readFile } from 'node:fs/promises';
import type { Prediction } from '@icls/lib/job-contract';
import type { ModelEntry } from './repository/model-repository.ts';
import { InferencePool, InferenceTimeoutError, type PooledSession, type RunShape } from './engine/inference-pool.ts';
import { pixelsToTensor } from './preprocess/pixels-to-tensor.ts';
import { softmax, topK } from './postprocess.ts';

export interface Classification {
  predictions: Prediction[];
  preprocessMs: number;
  inferenceMs: number;
  /** `performance.now()` when decoding (and resizing) ended, when the tensor was ready and when inference ended. */
  marks: { decoded: number; preprocessed: number; inferred: number };
}

/**
 * One run on a grey image of the config's input size, at load: a config that contradicts the graph
 * (input size, layout or type, or a labels.txt with another number of classes) makes the model
 * broken at once, with the reason, instead of a model that loads and fails every request. It also
 * pays the session's first-run costs before any request does.
 */
async function probeRun(entry: ModelEntry, session: PooledSession): Promise<string | undefined> {
  const { input, output } = entry.config;
  const grey = { data: Buffer.alloc(input.width * input.height * 3, 128), width: input.width, height: input.height };
  let scores: Float32Array;
  try {
    scores = await session.run(input.name, pixelsToTensor(grey, entry.config), output.name);
  } catch (err) {
    return `a test run on a ${input.width}×${input.height} ${input.layout} ${input.dtype} input failed (check input in config.json): ${(err as Error).message}`;
  }
  if (scores.length !== entry.labels.length) return `it gives ${scores.length} scores but labels.txt has ${entry.labels.length} classes`;
  if (!scores.every(Number.isFinite)) return 'a test run on a grey image gave scores that are not numbers (NaN or infinite): check preprocess.scale, mean and std in config.json';
  return undefined;
}

export class Classifier {
  private readonly plan: ResizePlan;

  private constructor(
    readonly entry: ModelEntry,
    private readonly pool: InferencePool,
    private readonly session: PooledSession,
    private readonly maxPixels: number,
    /** Shared by the process's models: bounds what their decoders hold at once. None: no bound (tools). */
    private readonly decodeBudget: DecodeBudget | undefined,
    /** A pool made for this model alone, closed with it. */
    private readonly ownPool?: InferencePool,
  ) {
    const { input, preprocess } = entry.config;
    this.plan = {
      width: input.width,
      height: input.height,
      mode: preprocess.resize,
      shorterSide: preprocess.shorterSide ?? Math.max(input.width, input.height),
      interpolation: preprocess.interpolation,
    };
  }

  /**
   * Opens the model's session on `pool` (or on a one-thread pool of its own with `threads` intra-op
   * threads) and checks that its config names real inputs and outputs.
   */
  static async load(entry: ModelEntry, opts: { threads: number; maxPixels: number; pool?: InferencePool; decodeBudget?: DecodeBudget }): Promise<Classifier> {
    const ownPool = opts.pool ? undefined : new InferencePool({ lanes: 1, laneThreads: opts.threads });
    const pool = opts.pool ?? ownPool!;
    let session: PooledSession;
    try {
      session = await pool.open(entry.modelPath);
    } catch (err) {
      await ownPool?.close();
      throw new Error(`model "${entry.name}": ONNX Runtime cannot load it: ${(err as Error).message}`, { cause: err });
    }
    const { input, output } = entry.config;
    const problems = [
      session.inputNames.includes(input.name) ? '' : `input "${input.name}" (the graph has ${session.inputNames.join(', ')})`,
      session.outputNames.includes(output.name) ? '' : `output "${output.name}" (the graph has ${session.outputNames.join(', ')})`,
    ].filter(Boolean);
    const fault = problems.length ? `config.json names ${problems.join(' and ')}` : await probeRun(entry, session);
    if (fault) {
      await session.close();
      await ownPool?.close();
      throw new Error(`model "${entry.name}": ${fault}`);
    }
    return new Classifier(entry, pool, session, opts.maxPixels, opts.decodeBudget, ownPool);
  }

  get name(): string {
    return this.entry.name;
  }

  /**
   * Counts as one job of the pool from decoding to the answer, so a lone job gets every core.
   * `deadline` (epoch ms): stop waiting for the inference then (InferenceTimeoutError). `shape` forces
   * the solo session or a lane (the bench's two limits); by default the load decides.
   */
  classify(image: string | Buffer, k: number, opts: { deadline?: number; shape?: RunShape } = {}): Promise<Classification> {
    return this.pool.asJob(() => this.classifyNow(image, k, opts));
  }

  private async classifyNow(image: string | Buffer, k: number, opts: { deadline?: number; shape?: RunShape }): Promise<Classification> {
    const t0 = performance.now();
    const pixels = await this.decode(image, opts.deadline);
    const decoded = performance.now();
    const tensor = pixelsToTensor(pixels, this.entry.config);
    const t1 = performance.now();
    const raw = await this.session.run(this.entry.config.input.name, tensor, this.entry.config.output.name, opts);
    const t2 = performance.now();
    if (raw.length !== this.entry.labels.length) {
      throw new Error(`model "${this.name}" gave ${raw.length} scores but labels.txt has ${this.entry.labels.length} classes`);
    }
    const scores = this.entry.config.output.kind === 'logits' ? softmax(raw) : raw;
    // NaN or infinite scores rank arbitrarily: a failure, never an answer (a std of 0 in config.json, say).
    if (!scores.every(Number.isFinite)) {
      throw new Error(`model "${this.name}" gave scores that are not numbers (NaN or infinite): check preprocess.scale, mean and std in its config.json`);
    }
    return {
      predictions: topK(scores, this.entry.labels, k),
      preprocessMs: t1 - t0,
      inferenceMs: t2 - t1,
      marks: { decoded, preprocessed: t1, inferred: t2 },
    };
  }

  private async decode(image: string | Buffer, deadline: number | undefined) {
    if (!this.decodeBudget) return decodeRgb(image, this.plan, this.maxPixels);
    const bytes = typeof image === 'string' ? await readFile(image) : image;
    const timeout = () => new InferenceTimeoutError("the job's deadline passed while it waited for memory to decode its image (DECODE_MEMORY_BYTES)");
    const release = await this.decodeBudget.acquire(imageDecodeBytes(bytes, this.plan, this.maxPixels), deadline, timeout);
    try {
      return await decodeRgb(bytes, this.plan, this.maxPixels);
    } finally {
      release();
    }
  }

  async close(): Promise<void> {
    await this.session.close();
    await this.ownPool?.close();
  }
}
