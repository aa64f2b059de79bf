import { describe, expect, it } from 'vitest';
import { DEFAULT_TRAIN_OPTIONS, validateTrainOptions } from '../train';
import { validateSpace } from './distributions';
import { RandomSampler } from './random-sampler';
import { createStudy } from './study';
import { SCENELAB_SPACE, trialRunOverrides, type SceneLabParams } from './scenelab-space';

describe('SceneLab search space', () => {
  it('names its parameters as TrainOptions keys, plus arch and the weight-decay switch', () => {
    validateSpace(SCENELAB_SPACE);
    const trainKeys = Object.keys(DEFAULT_TRAIN_OPTIONS);
    const names = Object.keys(SCENELAB_SPACE).filter((n) => n !== 'arch' && n !== 'useWeightDecay');
    expect(names.filter((n) => !trainKeys.includes(n))).toEqual([]);
    expect(names.sort()).toEqual(['batchSize', 'epochs', 'freeze', 'hflip', 'learningRate', 'optimizer', 'weightDecay']);
  });

  it('every draw makes valid training options; weight decay is 0 exactly when switched off', () => {
    const study = createStudy({ direction: 'maximize', objective: 'valAccuracy', space: SCENELAB_SPACE });
    const sampler = new RandomSampler({ seed: 2 });
    const decays: number[] = [];
    for (let i = 0; i < 200; i++) {
      const params = sampler.sample(study, SCENELAB_SPACE, i);
      const { arch, options } = trialRunOverrides(params);
      expect(['squeezenet1_1', 'mobilenet_v3_small']).toContain(arch);
      validateTrainOptions({ ...DEFAULT_TRAIN_OPTIONS, ...options });
      expect('weightDecay' in params).toBe(params.useWeightDecay === true);
      decays.push(options.weightDecay!);
    }
    expect(decays.filter((d) => d === 0).length).toBeGreaterThan(60);
    expect(Math.min(...decays.filter((d) => d > 0))).toBeGreaterThanOrEqual(1e-6);
    expect(Math.max(...decays)).toBeLessThanOrEqual(1e-2);
  });

  it('refuses a parameter that is not a training option, or of the wrong type', () => {
    expect(trialRunOverrides({ learningRate: 0.01, momentum: 0.8 }).options).toEqual({ learningRate: 0.01, momentum: 0.8 });
    expect(() => trialRunOverrides({ dropout: 0.5 })).toThrow(/dropout = 0.5: expected a training option or arch/);
    expect(() => trialRunOverrides({ batchSize: '32' })).toThrow(/batchSize = 32: expected a number/);
    expect(() => trialRunOverrides({ arch: 'resnet50' })).toThrow(/arch/);
    expect(trialRunOverrides({ useWeightDecay: false, weightDecay: 0.01 }).options.weightDecay).toBe(0);
  });

  it('types a trial from the space: choices as literal types, the conditional weight decay optional', () => {
    const params: SceneLabParams = { arch: 'mobilenet_v3_small', freeze: true, learningRate: 1e-3, batchSize: 16, epochs: 5, optimizer: 'sgd', useWeightDecay: false, hflip: true };
    // @ts-expect-error 12 is not one of the batch sizes searched
    const wrongBatch: SceneLabParams = { ...params, batchSize: 12 };
    // @ts-expect-error arch is not optional
    const noArch: SceneLabParams = { ...params, arch: undefined };
    expect(trialRunOverrides(params)).toEqual({
      arch: 'mobilenet_v3_small',
      options: { freeze: true, learningRate: 1e-3, batchSize: 16, epochs: 5, optimizer: 'sgd', weightDecay: 0, hflip: true },
    });
    expect([wrongBatch.batchSize, noArch.arch]).toEqual([12, undefined]);
  });
});
