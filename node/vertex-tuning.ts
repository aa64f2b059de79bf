/**
 * A SceneLab search space as a Vertex AI HyperparameterTuningJob (Vizier): the parameters are
 * `scenelab train` flags, which Vertex AI appends to each trial's arguments as `--flag=value`;
 * the trainer reports the metric after every epoch (cloudml-hypertune), and the best trial's
 * model directory is the one to bring back.
 */
import { InputError } from './errors';

/** Flags a study may search: numeric or categorical options of a run (booleans cannot be passed as `--flag=value`). */
export const TUNABLE_FLAGS = ['lr', 'batch-size', 'epochs', 'momentum', 'weight-decay', 'optimizer'] as const;
export type TunableFlag = (typeof TUNABLE_FLAGS)[number];

export type SearchParam =
  | { flag: TunableFlag; kind: 'double' | 'integer'; min: number; max: number; scale: 'linear' | 'log' }
  | { flag: TunableFlag; kind: 'discrete'; values: number[] }
  | { flag: TunableFlag; kind: 'categorical'; values: string[] };

const INTEGER_FLAGS = new Set<TunableFlag>(['batch-size', 'epochs']);

/**
 * Reads a search space written as `flag=range` items separated by commas:
 * `lr=1e-4..1e-2:log` (a float range, `:log` for a log scale), `epochs=3..10` (integers for
 * integer flags), `batch-size=16|32|64` (discrete numbers), `optimizer=adam|sgd` (categories).
 */
export function parseSearchSpace(spec: string): SearchParam[] {
  const out: SearchParam[] = [];
  for (const item of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([a-z-]+)=(.+)$/.exec(item);
    if (!m) throw new InputError(`--search: "${item}" is not flag=range (e.g. lr=1e-4..1e-2:log, batch-size=16|32|64)`);
    const flag = m[1] as TunableFlag;
    const range = m[2]!;
    if (!TUNABLE_FLAGS.includes(flag)) throw new InputError(`--search: ${flag} cannot be searched; choose from ${TUNABLE_FLAGS.join(', ')}`);
    if (out.some((p) => p.flag === flag)) throw new InputError(`--search: ${flag} is given twice`);
    const interval = /^([^.:|]+(?:\.\d+)?(?:e-?\d+)?)\.\.([^:|]+)(?::(log|linear))?$/.exec(range);
    if (interval) {
      const min = Number(interval[1]);
      const max = Number(interval[2]);
      const scale = (interval[3] ?? 'linear') as 'linear' | 'log';
      if (!Number.isFinite(min) || !Number.isFinite(max) || !(min < max)) throw new InputError(`--search: ${flag}=${range} needs numbers with min < max`);
      if (scale === 'log' && min <= 0) throw new InputError(`--search: ${flag}=${range} on a log scale needs min > 0`);
      const kind = INTEGER_FLAGS.has(flag) ? 'integer' : 'double';
      if (kind === 'integer' && (!Number.isInteger(min) || !Number.isInteger(max))) throw new InputError(`--search: ${flag} takes whole numbers, got ${range}`);
      out.push({ flag, kind, min, max, scale });
      continue;
    }
    const values = range.split('|').map((v) => v.trim());
    if (values.length < 2 || values.some((v) => v === '')) throw new InputError(`--search: ${flag}=${range} needs a range a..b or two or more values a|b`);
    if (flag === 'optimizer') {
      const bad = values.find((v) => v !== 'adam' && v !== 'sgd');
      if (bad) throw new InputError(`--search: optimizer values must be adam or sgd, got "${bad}"`);
      out.push({ flag, kind: 'categorical', values });
    } else {
      const nums = values.map(Number);
      if (nums.some((n) => !Number.isFinite(n))) throw new InputError(`--search: ${flag}=${range}: values must be numbers`);
      if (INTEGER_FLAGS.has(flag) && nums.some((n) => !Number.isInteger(n))) throw new InputError(`--search: ${flag} takes whole numbers, got ${range}`);
      out.push({ flag, kind: 'discrete', values: [...new Set(nums)].sort((a, b) => a - b) });
    }
  }
  if (out.length === 0) throw new InputError('--search is empty: give at least one flag=range');
  return out;
}

/** The `StudySpec.ParameterSpec` of a parameter (proto3 JSON names). */
function parameterSpec(p: SearchParam): Record<string, unknown> {
  switch (p.kind) {
    case 'double':
      return { parameterId: p.flag, doubleValueSpec: { minValue: p.min, maxValue: p.max }, scaleType: p.scale === 'log' ? 'UNIT_LOG_SCALE' : 'UNIT_LINEAR_SCALE' };
    case 'integer':
      return { parameterId: p.flag, integerValueSpec: { minValue: String(p.min), maxValue: String(p.max) }, scaleType: p.scale === 'log' ? 'UNIT_LOG_SCALE' : 'UNIT_LINEAR_SCALE' };
    case 'discrete':
      return { parameterId: p.flag, discreteValueSpec: { values: p.values } };
    case 'categorical':
      return { parameterId: p.flag, categoricalValueSpec: { values: p.values } };
  }
}

/** Metrics the trainer reports to the tuning service, and which way is better. */
export const TUNING_METRICS = { val_accuracy: 'MAXIMIZE', val_loss: 'MINIMIZE', train_accuracy: 'MAXIMIZE', train_loss: 'MINIMIZE' } as const;
export type TuningMetric = keyof typeof TUNING_METRICS;

export interface TuningJobInput {
  displayName: string;
  /** The trial's CustomJob spec (`customJobSpec(...).jobSpec`); its trainer gets `--hypertune-metric`. */
  trialJobSpec: Record<string, unknown>;
  params: SearchParam[];
  metric: TuningMetric;
  maxTrials: number;
  parallelTrials: number;
  /** Vizier's default (Bayesian optimisation), or random search. */
  algorithm: 'ALGORITHM_UNSPECIFIED' | 'RANDOM_SEARCH';
  labels?: Record<string, string>;
}

/** The `HyperparameterTuningJob` message exactly as it is sent. */
export function tuningJobSpec(input: TuningJobInput): Record<string, unknown> {
  if (!Number.isInteger(input.maxTrials) || input.maxTrials < 1 || input.maxTrials > 1000) throw new InputError(`--trials must be an integer from 1 to 1000, got ${input.maxTrials}`);
  if (!Number.isInteger(input.parallelTrials) || input.parallelTrials < 1 || input.parallelTrials > input.maxTrials) {
    throw new InputError(`--parallel must be an integer from 1 to --trials (${input.maxTrials}), got ${input.parallelTrials}`);
  }
  return {
    displayName: input.displayName,
    studySpec: {
      metrics: [{ metricId: input.metric, goal: TUNING_METRICS[input.metric] }],
      parameters: input.params.map(parameterSpec),
      algorithm: input.algorithm,
      measurementSelectionType: 'BEST_MEASUREMENT',
    },
    maxTrialCount: input.maxTrials,
    parallelTrialCount: input.parallelTrials,
    maxFailedTrialCount: Math.max(1, Math.ceil(input.maxTrials / 4)),
    trialJobSpec: input.trialJobSpec,
    labels: { 'created-by': 'scenelab', ...input.labels },
  };
}

/** A `google.protobuf.Value` as the client library returns it. */
function valueOf(v: unknown): number | string | null {
  if (typeof v === 'number' || typeof v === 'string') return v;
  if (typeof v === 'object' && v !== null) {
    const o = v as { numberValue?: unknown; stringValue?: unknown };
    if (typeof o.numberValue === 'number') return o.numberValue;
    if (typeof o.stringValue === 'string') return o.stringValue;
  }
  return null;
}

export interface TrialResult {
  id: string;
  state: string;
  params: Record<string, number | string | null>;
  value: number | null;
}

/** The trials of a tuning job with their parameters and final metric. */
export function trialsOf(job: Record<string, unknown>, metric: TuningMetric): TrialResult[] {
  const trials = (job.trials ?? []) as Array<{ id?: string; state?: string; parameters?: Array<{ parameterId?: string; value?: unknown }>; finalMeasurement?: { metrics?: Array<{ metricId?: string; value?: number }> } }>;
  return trials.map((t) => ({
    id: String(t.id ?? ''),
    state: String(t.state ?? ''),
    params: Object.fromEntries((t.parameters ?? []).map((p) => [String(p.parameterId), valueOf(p.value)])),
    value: t.finalMeasurement?.metrics?.find((m) => m.metricId === metric)?.value ?? null,
  }));
}

/** The best succeeded trial for the metric's direction, or null when none succeeded. */
export function bestTrial(trials: TrialResult[], metric: TuningMetric): TrialResult | null {
  const sign = TUNING_METRICS[metric] === 'MAXIMIZE' ? 1 : -1;
  const done = trials.filter((t) => t.state === 'SUCCEEDED' && t.value !== null);
  return done.reduce<TrialResult | null>((best, t) => (best === null || sign * t.value! > sign * best.value! ? t : best), null);
}
