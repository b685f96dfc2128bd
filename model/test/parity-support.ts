/**
 * Test support for the converter: runs the same input through the original TF.js model (cpu
 * backend) and the converted ONNX model (onnxruntime-node) and measures how far they differ.
 * Only tests import this module; it is what ties the converter to TF.js's own numerics.
 */
import * as tf from '@tensorflow/tfjs';
import '../src/engine/ort-telemetry-off.ts'; // before onnxruntime-node: telemetry off
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { mulberry32 } from '@icls/lib/seeded-random';
import type { TfjsModelJson } from '../src/convert/tfjs-model-json.ts';

let backendReady: Promise<void> | undefined;

/** TF.js on its pure-JS cpu backend: the reference implementation nsfwjs runs on in Node without tfjs-node. */
export function useTfjsCpu(): Promise<typeof tf> {
  backendReady ??= tf.setBackend('cpu').then((ok) => {
    if (!ok) throw new Error('TF.js cpu backend failed to initialize');
  });
  return backendReady.then(() => tf);
}

/** Loads the original model from the same bytes the converter reads. */
export async function loadTfjsModel(modelJson: TfjsModelJson, weightData: Uint8Array): Promise<tf.LayersModel | tf.GraphModel> {
  await useTfjsCpu();
  const weightSpecs = modelJson.weightsManifest.flatMap((g) => g.weights) as tf.io.WeightsManifestEntry[];
  const artifacts: tf.io.ModelArtifacts = {
    modelTopology: modelJson.modelTopology as tf.io.ModelArtifacts['modelTopology'],
    weightSpecs,
    weightData: weightData.slice().buffer,
    format: modelJson.format,
  };
  const handler = tf.io.fromMemory(artifacts);
  return modelJson.format === 'graph-model' ? tf.loadGraphModel(handler) : tf.loadLayersModel(handler);
}

/** TF.js prediction for an NHWC batch, as a flat array. */
export function predictTfjs(model: tf.LayersModel | tf.GraphModel, input: Float32Array, shape: number[]): Float32Array {
  return tf.tidy(() => {
    const out = model.predict(tf.tensor(input, shape)) as tf.Tensor;
    return out.dataSync() as Float32Array;
  });
}

/** The model.json + weight bytes of an in-memory TF.js layers model, as a converter input. */
export async function layersModelArtifacts(model: tf.LayersModel): Promise<{ modelJson: TfjsModelJson; weightData: Uint8Array }> {
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  if (!saved?.weightData || !saved.weightSpecs) throw new Error('TF.js did not hand over weights when saving');
  const data = saved.weightData;
  if (Array.isArray(data)) throw new Error('expected a single weight buffer');
  return {
    modelJson: {
      format: 'layers-model',
      modelTopology: saved.modelTopology,
      weightsManifest: [{ paths: ['weights.bin'], weights: saved.weightSpecs as TfjsModelJson['weightsManifest'][0]['weights'] }],
    },
    weightData: new Uint8Array(data as ArrayBuffer),
  };
}

/** One ONNX Runtime session per model bytes, default options (all cores, all graph optimizations). */
export function ortSession(onnx: Uint8Array): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(onnx);
}

/** Runs a converted model on an NHWC batch; returns its single output flat. */
export async function predictOrt(session: ort.InferenceSession, input: Float32Array, shape: number[]): Promise<Float32Array> {
  const feeds = { [session.inputNames[0]!]: new ort.Tensor('float32', input, shape) };
  const result = await session.run(feeds);
  return result[session.outputNames[0]!]!.data as Float32Array;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch ${a.length} vs ${b.length}`);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

/** Index of the largest value in each row of a [rows, cols] array. */
export function argmaxRows(values: ArrayLike<number>, cols: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < values.length / cols; r++) {
    let best = 0;
    for (let c = 1; c < cols; c++) if (values[r * cols + c]! > values[r * cols + best]!) best = c;
    out.push(best);
  }
  return out;
}

/** Deterministic uniform [0, 1) values (mulberry32), so failures reproduce. */
export function seededUniform(count: number, seed: number): Float32Array {
  const next = mulberry32(seed);
  return Float32Array.from({ length: count }, next);
}

/** An image of one colour, as NHWC values in [0, 1]. */
export function flatColour(size: number, rgb: [number, number, number]): Float32Array {
  const out = new Float32Array(size * size * 3);
  for (let i = 0; i < size * size; i++) out.set(rgb, i * 3);
  return out;
}

/** A photo decoded and stretched to size×size RGB with sharp, scaled to [0, 1] as nsfwjs does. */
export async function photoAsInput(path: string, size: number): Promise<Float32Array> {
  const raw = await sharp(path).removeAlpha().resize(size, size, { fit: 'fill' }).raw().toBuffer();
  if (raw.length !== size * size * 3) throw new Error(`${path}: decoded ${raw.length} bytes, expected ${size * size * 3}`);
  return Float32Array.from(raw, (v) => v / 255);
}

/** Concatenates equally sized images into one NHWC batch. */
export function batchOf(images: Float32Array[]): Float32Array {
  const out = new Float32Array(images.reduce((n, x) => n + x.length, 0));
  let offset = 0;
  for (const img of images) {
    out.set(img, offset);
    offset += img.length;
  }
  return out;
}
