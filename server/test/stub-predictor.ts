import type { ImageInstance, PredictOutcome, Predictor } from '../predict/types';

/** A predictor that answers at once, for tests about everything but prediction. */
export class StubPredictor implements Predictor {
  readonly source = 'local' as const;
  calls: ImageInstance[][] = [];
  describe(): string {
    return 'stub';
  }
  ready(): boolean {
    return true;
  }
  status(): Record<string, unknown> {
    return { source: 'local', ready: true, stub: true };
  }
  async predict(instances: readonly ImageInstance[]): Promise<PredictOutcome> {
    this.calls.push([...instances]);
    return { predictions: instances.map(() => ({ label: 'forest', probabilities: { forest: 1 } })), source: 'local', model: { id: 'stub' } };
  }
  async close(): Promise<void> {}
}
