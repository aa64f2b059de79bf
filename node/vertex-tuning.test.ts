import { describe, expect, it } from 'vitest';
import { bestTrial, parseSearchSpace, trialsOf, tuningJobSpec } from './vertex-tuning';

describe('parseSearchSpace', () => {
  it('reads ranges, log scales, integers, discrete numbers and categories', () => {
    expect(parseSearchSpace('lr=1e-4..1e-2:log, epochs=3..10, batch-size=64|16|32, optimizer=adam|sgd, momentum=0.8..0.99')).toEqual([
      { flag: 'lr', kind: 'double', min: 1e-4, max: 1e-2, scale: 'log' },
      { flag: 'epochs', kind: 'integer', min: 3, max: 10, scale: 'linear' },
      { flag: 'batch-size', kind: 'discrete', values: [16, 32, 64] },
      { flag: 'optimizer', kind: 'categorical', values: ['adam', 'sgd'] },
      { flag: 'momentum', kind: 'double', min: 0.8, max: 0.99, scale: 'linear' },
    ]);
  });

  it.each([
    ['freeze=0|1', /freeze cannot be searched/],
    ['lr=0.1..0.01', /min < max/],
    ['lr=0..0.1:log', /log scale needs min > 0/],
    ['epochs=2.5..4', /whole numbers/],
    ['optimizer=adam|rmsprop', /adam or sgd, got "rmsprop"/],
    ['lr=0.1', /range a\.\.b or two or more values/],
    ['lr=1e-3..1e-2,lr=1e-4..1e-3', /given twice/],
    ['', /--search is empty/],
  ])('refuses %s', (spec, message) => {
    expect(() => parseSearchSpace(spec)).toThrow(message);
  });
});

describe('tuning jobs', () => {
  it('writes the StudySpec Vertex AI expects', () => {
    const job = tuningJobSpec({ displayName: 't', trialJobSpec: { workerPoolSpecs: [] }, params: parseSearchSpace('lr=1e-4..1e-2:log,batch-size=16|32,epochs=2..4'), metric: 'val_loss', maxTrials: 8, parallelTrials: 2, algorithm: 'ALGORITHM_UNSPECIFIED' });
    expect(job.studySpec).toEqual({
      metrics: [{ metricId: 'val_loss', goal: 'MINIMIZE' }],
      parameters: [
        { parameterId: 'lr', doubleValueSpec: { minValue: 1e-4, maxValue: 1e-2 }, scaleType: 'UNIT_LOG_SCALE' },
        { parameterId: 'batch-size', discreteValueSpec: { values: [16, 32] } },
        { parameterId: 'epochs', integerValueSpec: { minValue: '2', maxValue: '4' }, scaleType: 'UNIT_LINEAR_SCALE' },
      ],
      algorithm: 'ALGORITHM_UNSPECIFIED',
      measurementSelectionType: 'BEST_MEASUREMENT',
    });
    expect(job).toMatchObject({ maxTrialCount: 8, parallelTrialCount: 2, maxFailedTrialCount: 2 });
    expect(() => tuningJobSpec({ displayName: 't', trialJobSpec: {}, params: [], metric: 'val_loss', maxTrials: 2, parallelTrials: 3, algorithm: 'RANDOM_SEARCH' })).toThrow(/--parallel must be/);
  });

  it('picks the best succeeded trial in the metric\'s direction', () => {
    const job = {
      trials: [
        { id: '1', state: 'SUCCEEDED', parameters: [{ parameterId: 'lr', value: { numberValue: 0.01 } }], finalMeasurement: { metrics: [{ metricId: 'val_loss', value: 0.5 }] } },
        { id: '2', state: 'SUCCEEDED', parameters: [{ parameterId: 'optimizer', value: { stringValue: 'sgd' } }], finalMeasurement: { metrics: [{ metricId: 'val_loss', value: 0.3 }] } },
        { id: '3', state: 'INFEASIBLE', parameters: [] },
      ],
    };
    const trials = trialsOf(job, 'val_loss');
    expect(trials[1]).toEqual({ id: '2', state: 'SUCCEEDED', params: { optimizer: 'sgd' }, value: 0.3 });
    expect(bestTrial(trials, 'val_loss')?.id).toBe('2');
    expect(bestTrial(trialsOf({ trials: job.trials.map((t) => ({ ...t, finalMeasurement: { metrics: [{ metricId: 'val_accuracy', value: Number(t.id) }] } })) }, 'val_accuracy'), 'val_accuracy')?.id).toBe('2');
  });
});
