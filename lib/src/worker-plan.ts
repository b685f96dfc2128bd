/**
 * How a host's cores are divided among its model workers, from the configuration. One place, so the
 * workers, embedded mode, `npm start` and the bench's ceiling all divide them the same way.
 *
 * By default one worker process holds every core of the host through as many inference lanes as
 * cores (one single-threaded ONNX Runtime session each: several jobs at once use every core with no
 * thread waiting on another), plus one solo session with every core for a job that comes alone (the
 * latency of a request at light load). Measured on 2 cores with a ResNet50 graph: one thread 82 ms,
 * two threads 43 ms, and two single-threaded lanes side by side use both cores fully.
 */
import { cpus } from 'node:os';
import type { Config } from './config.ts';

export type PlanConfig = Pick<Config, 'MODEL_WORKERS' | 'INFERENCE_THREADS' | 'ORT_THREADS' | 'SOLO_ORT_THREADS' | 'WORKER_CONCURRENCY'>;

/** Where the model runs: in worker processes, or in the api's own process (embedded mode). */
export interface Where {
  embedded: boolean;
}

/** Cores visible to this process. */
export const coreCount = (): number => Math.max(1, cpus().length);

/** Worker processes per host: MODEL_WORKERS, or one. */
export const workerProcessCount = (config: Pick<Config, 'MODEL_WORKERS'>): number => config.MODEL_WORKERS || 1;

export interface WorkerPlan {
  /** Cores this process may use: the host's, divided among its worker processes. */
  cores: number;
  /** Inference lanes (threads, one inference at a time each). */
  lanes: number;
  /** ONNX Runtime threads of each lane's session. */
  laneThreads: number;
  /** ONNX Runtime threads of the solo session; not above laneThreads means no solo session. */
  soloThreads: number;
  /** Jobs the process holds at once. */
  concurrency: number;
}

/** The plan of one process that runs models, from its configuration (0 = derived, as documented). */
export function workerPlan(config: PlanConfig, where: Where, cores = coreCount()): WorkerPlan {
  const share = where.embedded ? cores : Math.max(1, Math.floor(cores / workerProcessCount(config)));
  const lanes = config.INFERENCE_THREADS || share;
  const laneThreads = config.ORT_THREADS || Math.max(1, Math.floor(share / lanes));
  const soloThreads = config.SOLO_ORT_THREADS || share;
  const concurrency = config.WORKER_CONCURRENCY || 2 * lanes;
  return { cores: share, lanes, laneThreads, soloThreads, concurrency };
}

/** True when the plan gives models a solo session (it would be faster than a lane). */
export const hasSoloSession = (plan: WorkerPlan): boolean => plan.soloThreads > plan.laneThreads;
