/**
 * One inference thread: holds ONNX Runtime sessions and runs them, so the worker's event loop (its
 * heartbeats, job touches, HTTP in embedded mode) keeps turning while a model computes.
 */
import { parentPort } from 'node:worker_threads';
import { OnnxSession } from './onnx-engine.ts';
import type { ThreadReply, ThreadRequest, ThreadValue } from './inference-protocol.ts';

const port = parentPort;
if (!port) throw new Error('inference-thread.ts runs only inside a worker thread');

const sessions = new Map<number, OnnxSession>();

async function handle(req: ThreadRequest): Promise<{ value: ThreadValue; transfer: ArrayBuffer[] }> {
  switch (req.kind) {
    case 'open': {
      const session = await OnnxSession.open(req.modelPath, { threads: req.intraOpThreads });
      sessions.set(req.sessionId, session);
      return { value: { kind: 'opened', inputNames: [...session.inputNames], outputNames: [...session.outputNames] }, transfer: [] };
    }
    case 'run': {
      const session = sessions.get(req.sessionId);
      if (!session) throw new Error(`no open session ${req.sessionId} in this inference thread`);
      const data = req.dtype === 'float32' ? new Float32Array(req.data) : req.dtype === 'float16' ? new Uint16Array(req.data) : new Uint8Array(req.data);
      const out = await session.run(req.inputName, { dtype: req.dtype, data, dims: req.dims }, req.outputName);
      const owned = out.byteOffset === 0 && out.byteLength === out.buffer.byteLength ? out : out.slice();
      return { value: { kind: 'output', data: owned.buffer as ArrayBuffer }, transfer: [owned.buffer as ArrayBuffer] };
    }
    case 'release': {
      await sessions.get(req.sessionId)?.close();
      sessions.delete(req.sessionId);
      return { value: { kind: 'released' }, transfer: [] };
    }
  }
}

port.on('message', (req: ThreadRequest) => {
  handle(req).then(
    ({ value, transfer }) => port.postMessage({ id: req.id, ok: true, value } satisfies ThreadReply, transfer),
    (err: unknown) => port.postMessage({ id: req.id, ok: false, message: (err as Error).message ?? String(err) } satisfies ThreadReply),
  );
});
