/** The bench's result document: what one run measured, as written to bench/results/<stem>.json. */
import type { CeilingResult } from './ceiling.ts';
import type { Distribution } from './stats.ts';
import type { StepResult } from './steps.ts';

export interface BenchResult {
  version: 1;
  startedAt: string;
  finishedAt: string;
  elapsedS: number;
  model: string;
  modelsDir: string;
  quick: boolean;
  machine: { hostname: string; cpuModel: string; cores: number; memoryGB: number; node: string; kernel: string; loadavgAtStart: number[]; loadavgAtEnd?: number[] };
  target: { url: string; startedByBench: boolean; mode?: string; apiPid?: number; endpoint: string };
  /** Server settings as the started system (and the ceiling) read them from the environment. */
  config: Record<string, string | number>;
  images: { name: string; width: number; height: number; bytes: number }[];
  ceiling?: CeilingResult;
  /** GET /healthz round trips: the pure HTTP floor of this client and server. */
  healthz?: Distribution;
  steps: StepResult[];
  peak?: { throughput: number; step: string };
  /** The highest open-loop step, when it is at least 2× the peak. */
  saturation?: {
    step: string;
    rateMultiple?: number;
    rejected: number;
    rejectedP50Ms: number;
    rejectedP99Ms: number;
    status504: number;
    overDeadline: number;
    anyOverDeadline: boolean;
    acceptedP50Ms: number;
    acceptedP99Ms: number;
    acceptedP99OverP50: number;
  };
  /** Issue 13's targets this run judges: p50 at one client vs the latency floor, served peak vs the ceiling, overload. */
  targets?: {
    floor?: { floorMs: number; p50AtOneClientMs: number; marginMs: number; met: boolean };
    ceiling?: { peak: number; ceiling: number; ratio: number; met95: boolean; met85: boolean };
    overload?: { step: string; rejected: number; rejectedP99Ms: number; acceptedP99OverP50: number; late: boolean; met: boolean };
  };
  /** Things to know before trusting the numbers (busy machine, saturated client…). */
  notes: string[];
}
