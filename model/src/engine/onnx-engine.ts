/**
 * ONNX Runtime sessions. The only module that imports onnxruntime-node.
 * Inputs go in as the typed arrays the preprocessing made; outputs come back as Float32Array
 * whatever the model's output type (float16 bits are widened here).
 */
import './ort-telemetry-off.ts'; // before onnxruntime-node: telemetry off
import * as ort from 'onnxruntime-node';
import type { InputTensor } from '../preprocess/pixels-to-tensor.ts';
import { halfArrayToFloat32 } from '../preprocess/float16.ts';

export interface SessionOptions {
  /** Intra-op threads; 0 lets ONNX Runtime use one per core. */
  threads: number;
}

/**
 * ONNX Runtime's intra-op threads spin while waiting for work (allow_spinning, on by default). Between
 * the runs of a session with several threads that burns whole cores (measured on 2 cores: MobileNetV2
 * with 2 threads and 20 ms between runs took 43.5 core-ms per run spinning, 15.7 not, 13.0 with one
 * thread), which the lanes running beside it need. A one-thread session has no such threads.
 */
const NO_SPINNING = { session: { intra_op: { allow_spinning: '0' } } };

export class OnnxSession {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly inputNames: readonly string[],
    readonly outputNames: readonly string[],
  ) {}

  static async open(modelPath: string, opts: SessionOptions): Promise<OnnxSession> {
    const session = await ort.InferenceSession.create(modelPath, {
      intraOpNumThreads: opts.threads,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      executionMode: 'sequential',
      ...(opts.threads === 1 ? {} : { extra: NO_SPINNING }),
    });
    return new OnnxSession(session, session.inputNames, session.outputNames);
  }

  /** Runs one input and returns the named output, flattened, as float32. */
  async run(inputName: string, input: InputTensor, outputName: string): Promise<Float32Array> {
    const tensor = new ort.Tensor(input.dtype, input.data, input.dims);
    const outputs = await this.session.run({ [inputName]: tensor }, [outputName]);
    const out = outputs[outputName];
    if (!out) throw new Error(`the model has no output "${outputName}"`);
    try {
      const data = out.data;
      if (data instanceof Float32Array) return data;
      if (out.type === 'float16') return halfArrayToFloat32(new Uint16Array((data as Uint16Array).buffer, (data as Uint16Array).byteOffset, out.size));
      return Float32Array.from(data as ArrayLike<number>);
    } finally {
      tensor.dispose();
      out.dispose();
    }
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}
