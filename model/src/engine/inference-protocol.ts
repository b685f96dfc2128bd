/**
 * Messages between the inference pool (main thread) and its inference threads. Tensors travel as
 * transferred ArrayBuffers, so a 600 KB input costs no copy in either direction.
 */
import type { InputTensor } from '../preprocess/pixels-to-tensor.ts';

export type ThreadRequest =
  | { kind: 'open'; id: number; sessionId: number; modelPath: string; intraOpThreads: number }
  | {
      kind: 'run';
      id: number;
      sessionId: number;
      inputName: string;
      outputName: string;
      dtype: InputTensor['dtype'];
      dims: InputTensor['dims'];
      data: ArrayBuffer;
    }
  | { kind: 'release'; id: number; sessionId: number };

export type ThreadValue =
  | { kind: 'opened'; inputNames: string[]; outputNames: string[] }
  | { kind: 'output'; data: ArrayBuffer }
  | { kind: 'released' };

export type ThreadReply = { id: number; ok: true; value: ThreadValue } | { id: number; ok: false; message: string };

/** What the thread entry needs to know from its parent. */
export interface ThreadData {
  /** The module the bootstrap imports: inference-thread.ts from sources, .js once compiled. */
  entry: string;
}
