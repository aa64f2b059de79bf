import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { useBackend } from '../../test/helpers/backend';
import { fileSource, intelFiles, PRETRAINED } from '../../test/helpers/intel';
import { FeatureStore } from '../feature-cache';
import { ClassifierModel } from '../model';
import { caffeBgr } from '../preprocess';
import { readPth } from '../pth';
import { runConfig } from '../run/config';
import type { RunInput, RunOutcome } from '../run/pipeline';
import { categorical, float, int } from './distributions';
import { SuccessiveHalvingPruner } from './pruners';
import { RandomSampler } from './random-sampler';
import { runStudy } from './runner';
import { runObjective, trialRunInput } from './run-objective';
import { createStudy } from './study';

const CLASSES = ['forest', 'sea', 'street'];
const base: RunInput = {
  config: runConfig('squeezenet1_1', { preprocessing: caffeBgr(64), valSplit: 0.25, options: { freeze: true, seed: 1 } }),
  classes: CLASSES,
  pool: fileSource(intelFiles('train', 8, CLASSES)),
  weights: { name: 'features.pth', stateDict: readPth(readFileSync(PRETRAINED)) },
};
const SPACE = { learningRate: float(1e-5, 1e-1, { log: true }), batchSize: categorical([4, 8]), epochs: int(2, 4), hflip: categorical([true, false]) };

beforeAll(async () => {
  await useBackend('wasm');
});

describe('runObjective: trials as runs of the pipeline', () => {
  it('puts the parameters on top of the base run', () => {
    const input = trialRunInput(base, { learningRate: 0.01, epochs: 3, useWeightDecay: false, arch: 'mobilenet_v3_small' });
    expect(input.config.arch).toBe('mobilenet_v3_small');
    expect(input.config.options).toMatchObject({ freeze: true, seed: 1, learningRate: 0.01, epochs: 3, weightDecay: 0, batchSize: 32 });
    expect(input.pool).toBe(base.pool);
  });

  it('reports every epoch, stops pruned trials between epochs, and extracts the frozen features once', async () => {
    const study = createStudy({ direction: 'maximize', objective: 'valAccuracy', space: SPACE });
    const spy = vi.spyOn(ClassifierModel.prototype, 'backbone');
    const images: number[] = [];
    const outcomes = new Map<number, { outcome: RunOutcome; value: number }>();
    const epochsRun = new Map<number, number>();
    const store = new FeatureStore();
    const objective = runObjective({
      base,
      objective: 'valAccuracy',
      featureStore: store,
      onRunEvent: (trial, e) => {
        if (e.type === 'epoch') epochsRun.set(trial, e.epoch);
      },
      onComplete: (trial, outcome, value) => outcomes.set(trial, { outcome, value }),
    });
    let seen = 0;
    await runStudy(study, SPACE, objective, {
      sampler: new RandomSampler({ seed: 1 }),
      pruner: new SuccessiveHalvingPruner({ minResource: 1, reductionFactor: 2 }),
      budget: { maxTrials: 6 },
      onEvent: (e) => {
        if (e.type !== 'trial-end') return;
        const n = spy.mock.calls.reduce((a, [x]) => a + x.shape[0], 0);
        images.push(n - seen);
        seen = n;
      },
    });
    spy.mockRestore();
    const states = study.trials.map((t) => t.state);
    expect(states.filter((s) => s === 'pruned').length).toBeGreaterThan(0);
    expect(states.filter((s) => s === 'complete').length).toBeGreaterThan(0);
    for (const t of study.trials) {
      const epochs = t.params.epochs as number;
      // Every epoch reported its validation accuracy; a pruned trial stopped at the epoch it was judged on.
      expect(t.intermediate.map((v) => v.step)).toEqual(Array.from({ length: epochsRun.get(t.number)! }, (_, i) => i + 1));
      if (t.state === 'complete') {
        expect(epochsRun.get(t.number)).toBe(epochs);
        const { outcome, value } = outcomes.get(t.number)!;
        expect(t.value).toBe(value);
        expect(value).toBe(outcome.metrics!.accuracy);
        expect(outcome.hyperparameters).toMatchObject({ learningRate: t.params.learningRate, batchSize: t.params.batchSize, epochs, hflip: t.params.hflip, freeze: true });
      } else {
        expect(t.state).toBe('pruned');
        expect(epochsRun.get(t.number)).toBeLessThanOrEqual(epochs);
        expect(outcomes.has(t.number)).toBe(false);
      }
    }
    expect(study.trials.some((t) => t.state === 'pruned' && epochsRun.get(t.number)! < (t.params.epochs as number))).toBe(true);
    // 18 training and 6 validation images once, plus the 24 mirrored ones when the first flipping trial came.
    expect(images.reduce((a, b) => a + b, 0)).toBe(study.trials.some((t) => t.params.hflip) ? 48 : 24);
    expect(images.slice(1).every((n) => n === 0 || n === 24)).toBe(true);
  });
});
