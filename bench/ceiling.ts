/**
 * The ceiling: what the model alone costs on this machine, with the workers' own code and settings.
 *
 * The model is loaded in this process through the same Classifier the workers use (same ONNX
 * Runtime thread setting), and preprocess+inference runs over the image set one image at a time.
 * The cost per image is measured in core-seconds (process.cpuUsage deltas: every thread of the
 * process, ORT's pool and libuv's decoding pool included), not wall time, because wall time hides
 * how many cores one image keeps busy. cores / core-seconds-per-image is then the most images per
 * second this machine could classify if nothing but the model ran: the served throughput can only
 * approach it. Run it while the system under test is NOT running, or it measures the noise.
 */
import { coreCount } from '@icls/lib/config';
import { Classifier } from '@icls/model/classifier';
import type { ModelEntry } from '@icls/model/repository/model-repository';
import type { BenchImage } from './images.ts';
import { distribution, median, type Distribution } from './stats.ts';
import { ProcSampler } from './proc-stats.ts';

export interface CeilingOptions {
  entry: ModelEntry;
  images: readonly BenchImage[];
  /** Threads per session, as the workers resolve ORT_THREADS (see ortThreadsPerSession). */
  threads: number;
  /** WORKER_CONCURRENCY as the workers read it: the in-flight count of the parallel phase. */
  concurrency: number;
  maxPixels: number;
  warmupSeconds: number;
  /** Length of the sequential measurement (rounded up to whole passes over the image set). */
  seconds: number;
  /** Length of the parallel phase; 0 skips it. */
  parallelSeconds: number;
  log: (msg: string) => void;
}

export interface CeilingPerImage {
  name: string;
  width: number;
  height: number;
  preprocessP50Ms: number;
  inferenceP50Ms: number;
}

export interface CeilingResult {
  model: string;
  cores: number;
  ortThreads: number;
  workerConcurrency: number;
  /** The ceiling: cores / sequential.coreSecondsPerImage. */
  imagesPerSecond: number;
  sequential: {
    images: number;
    passes: number;
    wallSeconds: number;
    cpuSeconds: number;
    coreSecondsPerImage: number;
    /** Images/s of one-at-a-time processing (wall), for comparison with concurrency 1. */
    imagesPerSecondWall: number;
    /** preprocess + inference wall time of one image: the best single-request latency. */
    latencyMs: Distribution;
    preprocessMs: Distribution;
    inferenceMs: Distribution;
    /** Whole-machine busy % (of all cores) meanwhile, this measurement included. */
    machineBusyPct: number;
    /** The part of machineBusyPct that was NOT this measurement: other work disturbing it. */
    othersBusyPct: number;
  };
  /** WORKER_CONCURRENCY images in flight in one process, as one worker runs them. */
  parallel?: { concurrency: number; images: number; wallSeconds: number; cpuSeconds: number; imagesPerSecond: number; coreSecondsPerImage: number };
  perImage: CeilingPerImage[];
}

/** Hard cap on passes over the image set, whatever the durations say. */
const MAX_PASSES = 10_000;

/** Loads the model, warms it up, measures; the session is released before returning. */
export async function measureCeiling(opts: CeilingOptions): Promise<CeilingResult> {
  const { images, log } = opts;
  const classifier = await Classifier.load(opts.entry, { threads: opts.threads, maxPixels: opts.maxPixels });
  try {
    const one = (img: BenchImage) => classifier.classify(img.bytes, 5);

    // Warm-up: at least one pass, so every image size has been seen (allocator, ORT arena, sharp).
    const warmUntil = performance.now() + opts.warmupSeconds * 1000;
    let warmPasses = 0;
    do {
      for (const img of images) await one(img);
      warmPasses++;
    } while (performance.now() < warmUntil && warmPasses < MAX_PASSES);

    // Sequential: whole passes, so every image weighs the same as in the load steps' round robin.
    const latencies: number[] = [];
    const pre: number[] = [];
    const inf: number[] = [];
    const perImage = new Map<string, { pre: number[]; inf: number[] }>(images.map((i) => [i.name, { pre: [], inf: [] }]));
    const sampler = new ProcSampler(undefined);
    sampler.start();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const until = t0 + opts.seconds * 1000;
    let passes = 0;
    do {
      for (const img of images) {
        const r = await one(img);
        latencies.push(r.preprocessMs + r.inferenceMs);
        pre.push(r.preprocessMs);
        inf.push(r.inferenceMs);
        perImage.get(img.name)!.pre.push(r.preprocessMs);
        perImage.get(img.name)!.inf.push(r.inferenceMs);
      }
      passes++;
    } while (performance.now() < until && passes < MAX_PASSES);
    const wallSeconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const machine = sampler.stop();
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    const n = latencies.length;
    const coreSecondsPerImage = cpuSeconds / n;
    const cores = coreCount();
    log(`ceiling: ${n} images sequentially in ${wallSeconds.toFixed(1)} s, ${(coreSecondsPerImage * 1000).toFixed(1)} core-ms/image`);

    let parallel: CeilingResult['parallel'];
    if (opts.parallelSeconds > 0 && opts.concurrency > 1) {
      let next = 0;
      let done = 0;
      const pcpu0 = process.cpuUsage();
      const p0 = performance.now();
      const pUntil = p0 + opts.parallelSeconds * 1000;
      const cap = MAX_PASSES * images.length;
      await Promise.all(
        Array.from({ length: opts.concurrency }, async () => {
          while (performance.now() < pUntil && next < cap) {
            await one(images[next++ % images.length]!);
            done++;
          }
        }),
      );
      const pWall = (performance.now() - p0) / 1000;
      const pc = process.cpuUsage(pcpu0);
      const pCpu = (pc.user + pc.system) / 1e6;
      parallel = { concurrency: opts.concurrency, images: done, wallSeconds: pWall, cpuSeconds: pCpu, imagesPerSecond: done / pWall, coreSecondsPerImage: pCpu / done };
      log(`ceiling: ${done} images at ${opts.concurrency} in flight, ${(done / pWall).toFixed(1)} images/s in one process`);
    }

    return {
      model: opts.entry.name,
      cores,
      ortThreads: opts.threads,
      workerConcurrency: opts.concurrency,
      imagesPerSecond: cores / coreSecondsPerImage,
      sequential: {
        images: n,
        passes,
        wallSeconds,
        cpuSeconds,
        coreSecondsPerImage,
        imagesPerSecondWall: n / wallSeconds,
        latencyMs: distribution(latencies),
        preprocessMs: distribution(pre),
        inferenceMs: distribution(inf),
        machineBusyPct: machine.machineBusyPct,
        othersBusyPct: Math.max(0, machine.machineBusyPct - (100 * cpuSeconds) / wallSeconds / cores),
      },
      parallel,
      perImage: images.map((img) => ({
        name: img.name,
        width: img.width,
        height: img.height,
        preprocessP50Ms: median(perImage.get(img.name)!.pre),
        inferenceP50Ms: median(perImage.get(img.name)!.inf),
      })),
    };
  } finally {
    await classifier.close();
  }
}
