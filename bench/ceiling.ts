/**
 * The machine's two limits for one model, measured with the workers' own code (Classifier on an
 * inference pool planned as a worker plans it), each with the settings that give it:
 *
 * - the throughput ceiling: CPU time per image (process.cpuUsage: every thread, ORT's and libuv's
 *   decoding pool included), the lower of two settings: images one at a time on a lane (one core's
 *   ONNX Runtime threads), and `plan.concurrency` in flight as a worker runs them; ceiling = cores /
 *   core-seconds per image: the most this machine could classify if every core did nothing but this
 *   model with perfect parallelism. Usually one at a time is cheaper (no contention between cores); on
 *   some VMs a lone busy core is slower (ResNet50: 112–124 core-ms one at a time, 99–109 in flight), and
 *   a ceiling from it alone was beaten by the served system.
 * - the latency floor: images one at a time on the solo session (every core), the wall time of
 *   preprocess + inference: no request can be answered faster (p50 over the image mix).
 *
 * Plus, for reference, `concurrency` images in flight on the pool as a worker runs them (the real
 * in-process throughput with every core busy: contention between cores shows here). Run it while the
 * system under test is NOT running, or it measures the noise.
 */
import { Classifier } from '@icls/model/classifier';
import { InferencePool, type RunShape } from '@icls/model/engine/inference-pool';
import type { ModelEntry } from '@icls/model/repository/model-repository';
import { coreCount, hasSoloSession, type WorkerPlan } from '@icls/lib/worker-plan';
import type { BenchImage } from './images.ts';
import { ProcSampler } from './proc-stats.ts';
import { distribution, median, type Distribution } from './stats.ts';

export interface CeilingOptions {
  entry: ModelEntry;
  images: readonly BenchImage[];
  /** The workers' plan (lanes, threads per lane, solo threads, jobs at once). */
  plan: WorkerPlan;
  maxPixels: number;
  warmupSeconds: number;
  /** Length of each sequential measurement (rounded up to whole passes over the image set). */
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
  /** Inference p50 on the solo session (the floor's settings). */
  soloInferenceP50Ms?: number;
}

/** One-at-a-time passes with one placement. */
export interface SequentialRun {
  shape: RunShape;
  images: number;
  passes: number;
  wallSeconds: number;
  cpuSeconds: number;
  coreSecondsPerImage: number;
  /** Images/s of one-at-a-time processing (wall). */
  imagesPerSecondWall: number;
  /** preprocess + inference wall time of one image. */
  latencyMs: Distribution;
  preprocessMs: Distribution;
  inferenceMs: Distribution;
  /** Whole-machine busy % (of all cores) meanwhile, this measurement included. */
  machineBusyPct: number;
  /** The part of machineBusyPct that was NOT this measurement: other work disturbing it. */
  othersBusyPct: number;
}

export interface CeilingResult {
  model: string;
  cores: number;
  plan: WorkerPlan;
  /** The throughput ceiling: cores / coreSecondsPerImage. */
  imagesPerSecond: number;
  /**
   * CPU time per image: the lower of one at a time on a lane and in flight (`ceilingFrom` says which).
   * Absent from results written before 2026-12-02, whose ceiling was one at a time's alone.
   */
  coreSecondsPerImage?: number;
  ceilingFrom?: 'one at a time' | 'in flight';
  /** On a lane, one at a time: the ceiling's measurement. */
  sequential: SequentialRun;
  /** The latency floor: p50 of preprocess + inference on the solo session, one at a time. */
  floorMs: number;
  /** On the solo session (absent when the plan has none: the floor is then the lane's p50). */
  solo?: SequentialRun;
  /** `plan.concurrency` images in flight in one process, placed by load as a worker places them. */
  parallel?: { concurrency: number; images: number; wallSeconds: number; cpuSeconds: number; imagesPerSecond: number; coreSecondsPerImage: number };
  perImage: CeilingPerImage[];
}

/** The ceiling from the CPU time per image one at a time and in flight: the cheaper of the two settings. */
export function ceilingOf(cores: number, oneAtATime: number, inFlight?: number): Pick<CeilingResult, 'imagesPerSecond' | 'coreSecondsPerImage' | 'ceilingFrom'> {
  const fromInFlight = inFlight !== undefined && inFlight < oneAtATime;
  const coreSecondsPerImage = fromInFlight ? inFlight : oneAtATime;
  return { imagesPerSecond: cores / coreSecondsPerImage, coreSecondsPerImage, ceilingFrom: fromInFlight ? 'in flight' : 'one at a time' };
}

/** Hard cap on passes over the image set, whatever the durations say. */
const MAX_PASSES = 10_000;

type PerImageTimes = Map<string, { pre: number[]; inf: number[] }>;

/** Loads the model, warms it up, measures; the sessions are released before returning. */
export async function measureCeiling(opts: CeilingOptions): Promise<CeilingResult> {
  const { images, log, plan } = opts;
  const pool = new InferencePool({ lanes: plan.lanes, laneThreads: plan.laneThreads, soloThreads: plan.soloThreads });
  try {
    const classifier = await Classifier.load(opts.entry, { threads: plan.laneThreads, maxPixels: opts.maxPixels, pool });
    const solo = hasSoloSession(plan);
    const one = (img: BenchImage, shape: RunShape) => classifier.classify(img.bytes, 5, { shape });

    // Warm-up: every image at least once in each placement (allocator, ORT arenas, sharp).
    const warmUntil = performance.now() + opts.warmupSeconds * 1000;
    let warmPasses = 0;
    do {
      for (const img of images) {
        await one(img, 'lane');
        if (solo) await one(img, 'solo');
      }
      warmPasses++;
    } while (performance.now() < warmUntil && warmPasses < MAX_PASSES);

    const laneTimes: PerImageTimes = new Map(images.map((i) => [i.name, { pre: [], inf: [] }]));
    const sequential = await sequentialPasses(images, (img) => one(img, 'lane'), 'lane', opts.seconds, laneTimes);
    const cores = coreCount();
    log(`ceiling: ${sequential.images} images on a lane in ${sequential.wallSeconds.toFixed(1)} s, ${(sequential.coreSecondsPerImage * 1000).toFixed(1)} core-ms/image`);

    const soloTimes: PerImageTimes = new Map(images.map((i) => [i.name, { pre: [], inf: [] }]));
    const soloRun = solo ? await sequentialPasses(images, (img) => one(img, 'solo'), 'solo', opts.seconds, soloTimes) : undefined;
    if (soloRun) log(`floor: ${soloRun.images} images on the solo session (${plan.soloThreads} threads), p50 ${soloRun.latencyMs.p50.toFixed(1)} ms`);

    let parallel: CeilingResult['parallel'];
    if (opts.parallelSeconds > 0 && plan.concurrency > 1) {
      parallel = await parallelRun(images, (img) => one(img, 'auto'), plan.concurrency, opts.parallelSeconds);
      log(`ceiling: ${parallel.images} images at ${plan.concurrency} in flight, ${parallel.imagesPerSecond.toFixed(1)} images/s in one process`);
    }

    return {
      model: opts.entry.name,
      cores,
      plan,
      ...ceilingOf(cores, sequential.coreSecondsPerImage, parallel?.coreSecondsPerImage),
      sequential,
      floorMs: (soloRun ?? sequential).latencyMs.p50,
      solo: soloRun,
      parallel,
      perImage: images.map((img) => ({
        name: img.name,
        width: img.width,
        height: img.height,
        preprocessP50Ms: median(laneTimes.get(img.name)!.pre),
        inferenceP50Ms: median(laneTimes.get(img.name)!.inf),
        soloInferenceP50Ms: soloRun ? median(soloTimes.get(img.name)!.inf) : undefined,
      })),
    };
  } finally {
    await pool.close();
  }
}

type Classify = (img: BenchImage) => Promise<{ preprocessMs: number; inferenceMs: number }>;

/** Whole passes over the images, one at a time, so every image weighs the same as in the load steps. */
async function sequentialPasses(images: readonly BenchImage[], classify: Classify, shape: RunShape, seconds: number, perImage: PerImageTimes): Promise<SequentialRun> {
  const latencies: number[] = [];
  const pre: number[] = [];
  const inf: number[] = [];
  const sampler = new ProcSampler(undefined);
  sampler.start();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const until = t0 + seconds * 1000;
  let passes = 0;
  do {
    for (const img of images) {
      const r = await classify(img);
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
  return {
    shape,
    images: n,
    passes,
    wallSeconds,
    cpuSeconds,
    coreSecondsPerImage: cpuSeconds / n,
    imagesPerSecondWall: n / wallSeconds,
    latencyMs: distribution(latencies),
    preprocessMs: distribution(pre),
    inferenceMs: distribution(inf),
    machineBusyPct: machine.machineBusyPct,
    othersBusyPct: Math.max(0, machine.machineBusyPct - (100 * cpuSeconds) / wallSeconds / coreCount()),
  };
}

async function parallelRun(images: readonly BenchImage[], classify: Classify, concurrency: number, seconds: number): Promise<NonNullable<CeilingResult['parallel']>> {
  let next = 0;
  let done = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const until = t0 + seconds * 1000;
  const cap = MAX_PASSES * images.length;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < until && next < cap) {
        await classify(images[next++ % images.length]!);
        done++;
      }
    }),
  );
  const wallSeconds = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(cpu0);
  const cpuSeconds = (c.user + c.system) / 1e6;
  return { concurrency, images: done, wallSeconds, cpuSeconds, imagesPerSecond: done / wallSeconds, coreSecondsPerImage: cpuSeconds / done };
}
