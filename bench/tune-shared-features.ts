// What the shared feature store saves a head-only search: the same random trials (a study over
// learning rate, batch size, epochs, optimizer, weight decay and flips) run with one FeatureStore
// and without, beside one run with the default hyperparameters, on a subset of the Intel scenes.
//   npx tsx bench/tune-shared-features.ts [--per-class 50] [--trials 6]
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { FeatureStore } from '../model/feature-cache';
import { ClassifierModel } from '../model/model';
import { readPth } from '../model/pth';
import { runConfig } from '../model/run/config';
import { runTraining, type RunInput } from '../model/run/pipeline';
import { fixParams } from '../cli/tune/space';
import { createStudy, RandomSampler, runObjective, runStudy, SCENELAB_SPACE } from '../model/tune';
import { initNodeBackend } from '../node/backend';
import { fileSource, intelFiles, PRETRAINED } from '../test/helpers/intel';

const arg = (name: string, fallback: number): number => (process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : fallback);
const perClass = arg('--per-class', 50);
const trials = arg('--trials', 6);

await initNodeBackend('wasm');
const weights = { name: path.basename(PRETRAINED), stateDict: readPth(readFileSync(PRETRAINED)) };
const classes = ['buildings', 'forest', 'glacier', 'mountain', 'sea', 'street'];
const base: RunInput = { config: runConfig('squeezenet1_1', { options: { freeze: true } }), classes, pool: fileSource(intelFiles('train', perClass, classes)), weights };
const space = fixParams(SCENELAB_SPACE, { arch: 'squeezenet1_1', freeze: true });

/** Seconds and backbone images of `f`. */
async function measure(f: () => Promise<unknown>): Promise<{ seconds: number; images: number }> {
  const original = ClassifierModel.prototype.backbone;
  let images = 0;
  ClassifierModel.prototype.backbone = function (this: ClassifierModel, ...args: Parameters<typeof original>) {
    images += args[0].shape[0];
    return original.apply(this, args);
  };
  const t = performance.now();
  try {
    await f();
  } finally {
    ClassifierModel.prototype.backbone = original;
  }
  return { seconds: (performance.now() - t) / 1000, images };
}

const study = async (store: FeatureStore | undefined) => {
  const s = createStudy({ direction: 'maximize', objective: 'valAccuracy', space });
  await runStudy(s, space, runObjective({ base, objective: 'valAccuracy', ...(store && { featureStore: store }) }), { sampler: new RandomSampler({ seed: 7 }), budget: { maxTrials: trials } });
  return s.trials.reduce((n, t) => n + t.intermediate.length, 0);
};
let epochs = 0;
const rows = [
  { name: 'one run, default hyperparameters (10 epochs)', ...(await measure(() => runTraining(base))) },
  { name: `${trials} trials, shared feature store`, ...(await measure(async () => (epochs = await study(new FeatureStore())))) },
  { name: `${trials} trials, each run on its own`, ...(await measure(() => study(undefined))) },
];
const one = rows[0]!.seconds;
console.log(`squeezenet1_1 head-only, ${perClass * 6} images (10% held out), ${trials} random trials, ${epochs} epochs in all`);
console.log('| contender | seconds | backbone images | time vs one run |');
console.log('|---|--:|--:|--:|');
for (const r of rows) console.log(`| ${r.name} | ${r.seconds.toFixed(1)} | ${r.images} | ${(r.seconds / one).toFixed(2)}x |`);
