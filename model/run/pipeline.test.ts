import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { initNodeBackend } from '../../node/backend';
import { caffeBgr } from '../preprocess';
import { readPth } from '../pth';
import { CLASSES, PRETRAINED, fileSource, intelFiles } from '../../test/helpers/intel';
import { runConfig } from './config';
import { runTraining } from './pipeline';

describe('runTraining', () => {
  it('starts from the given weights even when nobody listens to its events', async () => {
    await initNodeBackend('wasm');
    const weights = readPth(readFileSync(PRETRAINED));
    const config = runConfig('squeezenet1_1', { preprocessing: caffeBgr(48), valSplit: 0, options: { freeze: true, epochs: 1, batchSize: 8, hflip: false } });
    const run = await runTraining({ config, classes: CLASSES.slice(0, 2), pool: fileSource(intelFiles('train', 4, CLASSES.slice(0, 2))), weights: { name: 'features', stateDict: weights } });
    // A frozen run leaves the backbone as loaded: the pretrained tensors, not a fresh initialisation.
    const trained = readPth(run.pth);
    for (const key of ['features.0.weight', 'features.12.expand3x3.bias']) expect([...trained.get(key)!.data]).toEqual([...weights.get(key)!.data]);
  });
});
