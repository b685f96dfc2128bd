/**
 * ONNX Runtime sessions. The only module that imports onnxruntime-node.
 * Inputs go in as the typed arrays the preprocessing made; outputs come back as Float32Array
 * whatever the model's output type (float16 bits are widened here).
 */
import './ort-telemetry-off.ts'; // before onnxruntime-node: telemetry off
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
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

/** ONNX Runtime refused a model file or a run; the message says why in ONNX Runtime's words, without its C++ source locations. */
export class OnnxModelError extends Error {
  override name = 'OnnxModelError';
}

/**
 * ONNX Runtime starts some reasons with where in its C++ sources they were raised: the file and line,
 * then the function's full signature (`/onnxruntime_src/onnxruntime/core/graph/model.cc:187
 * onnxruntime::Model::Model(onnx::ModelProto&&, …) ModelProto does not have a graph.`). That tells a
 * user nothing and buries the reason, so it is cut out.
 */
export function withoutSourceLocations(message: string): string {
  const location = /(?:[\w.-]*\/)*[\w.-]+\.(?:cc|cpp|cxx|h|hpp):\d+ /;
  let out = message;
  for (let m = location.exec(out); m; m = location.exec(out)) {
    const rest = out.slice(m.index + m[0].length);
    out = out.slice(0, m.index) + rest.slice(signatureLength(rest)).trimStart();
  }
  return out;
}

/**
 * Length of the C++ function signature (`__PRETTY_FUNCTION__`) that `text` starts with, 0 when it
 * starts with none: a return type and qualified name, balanced parentheses, then ` const` and
 * ` [with T = …]` if there.
 */
function signatureLength(text: string): number {
  const open = text.indexOf('(');
  if (open < 0 || !/^[\w:<>,*&~ ]*::[\w~<>]+$/.test(text.slice(0, open))) return 0;
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === '(') depth++;
    else if (text[i] === ')' && --depth === 0) {
      const qualifiers = /^(?: const)?(?: \[with [^\]]*\])?/.exec(text.slice(i + 1))![0];
      return i + 1 + qualifiers.length;
    }
  }
  return 0;
}

/** ONNX Runtime says "Load model from <path> failed:" when the file is there but is no model it can load. */
const LOAD_FAILED = /^Load model from .+? failed:/s;

/** What a user can act on when ONNX Runtime cannot open `modelPath`, keeping ONNX Runtime's reason. */
async function openFailure(modelPath: string, err: unknown): Promise<OnnxModelError> {
  const message = err instanceof Error ? err.message : String(err);
  const reason = withoutSourceLocations(message.replace(LOAD_FAILED, '')).trim();
  // Only a file that is there is "not a valid model"; a missing one keeps ONNX Runtime's own words.
  const file = await stat(modelPath).then(
    (s) => (s.isFile() ? s : undefined),
    () => undefined,
  );
  if (!LOAD_FAILED.test(message) || !file) return new OnnxModelError(`${modelPath}: ${reason}`, { cause: err });
  // There but not readable by this process: ONNX Runtime says "system error number 13", which read as a bad model.
  const unreadable = await access(modelPath, constants.R_OK).then(
    () => undefined,
    (e: NodeJS.ErrnoException) => e.code ?? e.message,
  );
  if (unreadable) return new OnnxModelError(`cannot read ${modelPath} (${unreadable === 'EACCES' ? 'permission denied: give the worker\'s user read access' : unreadable})`, { cause: err });
  const empty = file.size === 0 ? ' (the file is empty)' : '';
  return new OnnxModelError(`${modelPath} is not a valid ONNX model${empty}: ${reason}`, { cause: err });
}

export class OnnxSession {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly inputNames: readonly string[],
    readonly outputNames: readonly string[],
  ) {}

  static async open(modelPath: string, opts: SessionOptions): Promise<OnnxSession> {
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(modelPath, {
        intraOpNumThreads: opts.threads,
        interOpNumThreads: 1,
        graphOptimizationLevel: 'all',
        executionMode: 'sequential',
        // ONNX Runtime's own logger writes a failed run to stderr in colour, with its C++ file and
        // line, beside the job's error that says the same (OnnxModelError). Fatal only; a failure
        // to load is thrown, not logged, and stays reported.
        logSeverityLevel: 4,
        ...(opts.threads === 1 ? {} : { extra: NO_SPINNING }),
      });
    } catch (err) {
      throw await openFailure(modelPath, err);
    }
    return new OnnxSession(session, session.inputNames, session.outputNames);
  }

  /** Runs one input and returns the named output, flattened, as float32. */
  async run(inputName: string, input: InputTensor, outputName: string): Promise<Float32Array> {
    const tensor = new ort.Tensor(input.dtype, input.data, input.dims);
    let outputs: ort.InferenceSession.ReturnType;
    try {
      outputs = await this.session.run({ [inputName]: tensor }, [outputName]);
    } catch (err) {
      throw new OnnxModelError(withoutSourceLocations(err instanceof Error ? err.message : String(err)).trim(), { cause: err });
    } finally {
      // A failed run must not keep the job's input alive either.
      tensor.dispose();
    }
    const out = outputs[outputName];
    if (!out) throw new Error(`the model has no output "${outputName}"`);
    try {
      const data = out.data;
      if (data instanceof Float32Array) return data;
      if (out.type === 'float16') return halfArrayToFloat32(new Uint16Array((data as Uint16Array).buffer, (data as Uint16Array).byteOffset, out.size));
      return Float32Array.from(data as ArrayLike<number>);
    } finally {
      out.dispose();
    }
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}
