/** Messages between the benchmark page and its worker. */
import type { StepParams, StepTimes } from '../step';

export interface BenchRequest {
  params: StepParams;
  threads: number;
}

export type BenchReply =
  | { ok: true; times: StepTimes; backend: string; simd: boolean; threads: boolean; tfjs: string }
  | { ok: false; error: string };
