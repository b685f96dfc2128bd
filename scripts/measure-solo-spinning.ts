// What ONNX Runtime's spinning does to one image alone on every core (the solo session) and to the CPU
// it burns between runs: a session of 1 and of 2 intra-op threads, with spinning off (what the workers
// use), on, and on with `session.force_spinning_stop` (spinning only while a run is under way), one
// run every `--gap` ms as at one client. Run:
//   node --conditions=source --import tsx scripts/measure-solo-spinning.ts --model models/nsfw-mobilenetv2/model.onnx
// Measured directly on onnxruntime-node (not through model/src/engine) to set options the workers never use.
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';

const { values } = parseArgs({ options: { model: { type: 'string' }, gap: { type: 'string', default: '20' }, runs: { type: 'string', default: '40' } } });
if (!values.model) throw new Error('--model <model.onnx> is required');
const gapMs = Number(values.gap);
const runs = Number(values.runs);

const MODES = {
  'spinning off': { session: { intra_op: { allow_spinning: '0' } } },
  'spinning on': { session: { intra_op: { allow_spinning: '1' } } },
  'spinning on, force_spinning_stop': { session: { intra_op: { allow_spinning: '1' }, force_spinning_stop: '1' } },
};

async function measure(threads: number, extra: object): Promise<string> {
  const options: ort.InferenceSession.SessionOptions = { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all', executionMode: 'sequential', extra: extra as Record<string, unknown> };
  const session = await ort.InferenceSession.create(values.model!, options);
  const meta = session.inputMetadata[0];
  const dims = meta && 'shape' in meta ? meta.shape.map((d) => (typeof d === 'number' && d > 0 ? d : 1)) : [1, 3, 224, 224];
  const data = new Float32Array(dims.reduce((a, b) => a * b, 1)).map(() => Math.random());
  const feed = () => ({ [session.inputNames[0]!]: new ort.Tensor('float32', data, dims) });
  for (let i = 0; i < 5; i++) await session.run(feed());
  const walls: number[] = [];
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < runs; i++) {
    await new Promise((r) => setTimeout(r, gapMs));
    const t = performance.now();
    await session.run(feed());
    walls.push(performance.now() - t);
  }
  const cpu = process.cpuUsage(cpu0);
  await session.release();
  walls.sort((a, b) => a - b);
  const p = (q: number) => walls[Math.min(walls.length - 1, Math.floor(q * walls.length))]!.toFixed(2);
  return `p50 ${p(0.5)} ms, p90 ${p(0.9)} ms, ${((cpu.user + cpu.system) / 1000 / runs).toFixed(1)} core-ms per run and gap`;
}

console.log(`${values.model}: ${runs} runs, ${gapMs} ms apart`);
console.log(`1 thread:                              ${await measure(1, {})}`);
for (const [name, extra] of Object.entries(MODES)) console.log(`2 threads, ${`${name}:`.padEnd(34)} ${await measure(2, extra)}`);
