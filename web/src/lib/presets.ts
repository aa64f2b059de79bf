/** Training presets: starting points a new user can pick without knowing the hyperparameters. */
import type { TrainOptions } from '../../../model/train';
import type { StudySpaceChoices } from '../engine/study-types';

export type PresetId = 'head' | 'finetune' | 'scratch';

export interface Preset {
  label: string;
  /** Whether the preset expects pretrained weights. */
  pretrained: boolean;
  options: Partial<TrainOptions>;
}

export const PRESETS: Readonly<Record<PresetId, Preset>> = Object.freeze({
  head: {
    // No flips: each image's backbone features are computed once instead of twice, the one cost
    // that matters for a frozen backbone (about a minute on the 2,400 Intel training images on
    // 2 cores; ticking flips doubles that for about 2 points of accuracy).
    label: 'Quick: head only, pretrained backbone (about a minute)',
    pretrained: true,
    options: { freeze: true, batchSize: 32, learningRate: 1e-3, epochs: 5, optimizer: 'adam', hflip: false },
  },
  finetune: {
    label: 'Fine-tune the whole network (slower, a bit better)',
    pretrained: true,
    options: { freeze: false, batchSize: 16, learningRate: 1e-4, epochs: 5, optimizer: 'adam', hflip: true },
  },
  scratch: {
    label: 'From scratch, no pretrained weights (long)',
    pretrained: false,
    options: { freeze: false, batchSize: 32, learningRate: 1e-3, epochs: 20, optimizer: 'adam', hflip: true },
  },
});

/** A search's starting point: head-only SqueezeNet trials from pretrained features, done in minutes. */
export const HEAD_ONLY_STUDY_SPACE: Readonly<StudySpaceChoices> = Object.freeze<StudySpaceChoices>({
  arch: ['squeezenet1_1'],
  freeze: [true],
  learningRate: { low: 1e-4, high: 3e-2 },
  batchSize: [16, 32, 64],
  epochs: { low: 3, high: 3 },
  optimizer: ['adam', 'sgd'],
  weightDecay: false,
  hflip: [true],
});
