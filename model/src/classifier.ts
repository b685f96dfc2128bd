/**
 * One loaded model: config-driven preprocessing → ONNX Runtime → softmax (for logits) → top-k.
 */
import { decodeRgb, type ResizePlan } from './image/image.ts';
import type { Prediction } from '@icls/lib/job-contract';
import type { ModelEntry } from './repository/model-repository.ts';
import { InferencePool, type PooledSession, type RunShape } from './engine/inference-pool.ts';
import { pixelsToTensor } from './preprocess/pixels-to-tensor.ts';
import { softmax, topK } from './postprocess.ts';

export interface Classification {
  predictions: Prediction[];
  preprocessMs: number;
  inferenceMs: number;
  /** `performance.now()` when decoding (and resizing) ended, when the tensor was ready and when inference ended. */
  marks: { decoded: number; preprocessed: number; inferred: number };
}

export class Classifier {
  private readonly plan: ResizePlan;

  private constructor(
    readonly entry: ModelEntry,
    private readonly pool: InferencePool,
    private readonly session: PooledSession,
    private readonly maxPixels: number,
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
  static async load(entry: ModelEntry, opts: { threads: number; maxPixels: number; pool?: InferencePool }): Promise<Classifier> {
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
    if (problems.length) {
      await session.close();
      await ownPool?.close();
      throw new Error(`model "${entry.name}": config.json names ${problems.join(' and ')}`);
    }
    return new Classifier(entry, pool, session, opts.maxPixels, ownPool);
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
    const pixels = await decodeRgb(image, this.plan, this.maxPixels);
    const decoded = performance.now();
    const tensor = pixelsToTensor(pixels, this.entry.config);
    const t1 = performance.now();
    const raw = await this.session.run(this.entry.config.input.name, tensor, this.entry.config.output.name, opts);
    const t2 = performance.now();
    if (raw.length !== this.entry.labels.length) {
      throw new Error(`model "${this.name}" gave ${raw.length} scores but labels.txt has ${this.entry.labels.length} classes`);
    }
    const scores = this.entry.config.output.kind === 'logits' ? softmax(raw) : raw;
    return {
      predictions: topK(scores, this.entry.labels, k),
      preprocessMs: t1 - t0,
      inferenceMs: t2 - t1,
      marks: { decoded, preprocessed: t1, inferred: t2 },
    };
  }

  async close(): Promise<void> {
    await this.session.close();
    await this.ownPool?.close();
  }
}
