/**
 * One loaded model: config-driven preprocessing → ONNX Runtime → softmax (for logits) → top-k.
 */
import { decodeRgb, type ResizePlan } from './image/image.ts';
import type { Prediction } from '@icls/lib/job-contract';
import type { ModelEntry } from './repository/model-repository.ts';
import { OnnxSession } from './engine/onnx-engine.ts';
import { pixelsToTensor } from './preprocess/pixels-to-tensor.ts';
import { softmax, topK } from './postprocess.ts';

export interface Classification {
  predictions: Prediction[];
  preprocessMs: number;
  inferenceMs: number;
}

export class Classifier {
  private readonly plan: ResizePlan;

  private constructor(
    readonly entry: ModelEntry,
    private readonly session: OnnxSession,
    private readonly maxPixels: number,
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

  /** Opens the model's session and checks that its config names real inputs and outputs. */
  static async load(entry: ModelEntry, opts: { threads: number; maxPixels: number }): Promise<Classifier> {
    const session = await OnnxSession.open(entry.modelPath, { threads: opts.threads });
    const { input, output } = entry.config;
    const problems = [
      session.inputNames.includes(input.name) ? '' : `input "${input.name}" (the graph has ${session.inputNames.join(', ')})`,
      session.outputNames.includes(output.name) ? '' : `output "${output.name}" (the graph has ${session.outputNames.join(', ')})`,
    ].filter(Boolean);
    if (problems.length) {
      await session.close();
      throw new Error(`model "${entry.name}": config.json names ${problems.join(' and ')}`);
    }
    return new Classifier(entry, session, opts.maxPixels);
  }

  get name(): string {
    return this.entry.name;
  }

  async classify(image: string | Buffer, k: number): Promise<Classification> {
    const t0 = performance.now();
    const pixels = await decodeRgb(image, this.plan, this.maxPixels);
    const tensor = pixelsToTensor(pixels, this.entry.config);
    const t1 = performance.now();
    const raw = await this.session.run(this.entry.config.input.name, tensor, this.entry.config.output.name);
    const t2 = performance.now();
    if (raw.length !== this.entry.labels.length) {
      throw new Error(`model "${this.name}" gave ${raw.length} scores but labels.txt has ${this.entry.labels.length} classes`);
    }
    const scores = this.entry.config.output.kind === 'logits' ? softmax(raw) : raw;
    return { predictions: topK(scores, this.entry.labels, k), preprocessMs: t1 - t0, inferenceMs: t2 - t1 };
  }

  close(): Promise<void> {
    return this.session.close();
  }
}
