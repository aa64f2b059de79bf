import * as tf from '@tensorflow/tfjs-core';
import { strFromU8, strToU8, zipSync } from 'fflate';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../test/helpers/backend';
import { exportModelFiles, importModelFiles, ModelFormatError, unzipModelFiles, zipModelFiles } from './artifacts';
import { ClassifierModel } from './model';
import { caffeBgr } from './preprocess';

beforeAll(async () => {
  await useBackend('wasm');
});

const history = [
  { epoch: 1, trainLoss: 1.2, trainAccuracy: 0.5, valLoss: 1.0, valAccuracy: 0.6, seconds: 2, learningRate: 1e-3 },
  { epoch: 2, trainLoss: 0.8, trainAccuracy: 0.7, valLoss: 0.9, valAccuracy: 0.65, seconds: 2, learningRate: 1e-3 },
];

describe('model artifacts', () => {
  it.each(['squeezenet1_1', 'mobilenet_v3_small'] as const)('%s: export → zip → unzip → import predicts the same', async (arch) => {
    const labels = ['buildings', 'forest', 'glacier'];
    const model = ClassifierModel.create({ arch, numClasses: 3, labels, seed: 5, preprocessing: caffeBgr(96, 'pad') });
    const files = await exportModelFiles(model, { hyperparameters: { epochs: 2 }, history, metrics: { accuracy: 0.9 } });
    expect([...files.keys()].sort()).toEqual(['curves.svg', 'history.json', 'hyperparameters.json', 'labels.json', 'metrics.json', 'model.json', 'preprocessing.json', 'weights.bin']);
    const manifest = JSON.parse(strFromU8(files.get('model.json')!));
    expect(manifest).toMatchObject({ format: 'scenelab-classifier', arch, numClasses: 3, labels, preprocessing: { name: 'caffe-bgr', inputSize: [96, 96], resize: 'pad' } });
    expect(strFromU8(files.get('curves.svg')!)).toMatch(/^<svg[^>]+xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    const again = importModelFiles(unzipModelFiles(zipModelFiles(files)));
    expect(again.labels).toEqual(labels);
    expect(again.preprocessing).toEqual(model.preprocessing);
    const x = tf.randomNormal([1, 96, 96, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
    const [a, b] = [model.predict(x), again.predict(x)];
    expect(Array.from(await b.data())).toEqual(Array.from(await a.data()));
    tf.dispose([x, a, b]);
    model.dispose();
    again.dispose();
  });

  it('finds model.json inside a top-level folder of the zip', async () => {
    const model = ClassifierModel.create({ arch: 'squeezenet1_1', numClasses: 2 });
    const files = await exportModelFiles(model);
    const nested = zipSync(Object.fromEntries([...files].map(([k, v]) => [`my-model/${k}`, v])));
    const again = importModelFiles(unzipModelFiles(nested));
    expect(again.numClasses).toBe(2);
    model.dispose();
    again.dispose();
  });

  it('gives a clear error for each broken bundle', async () => {
    const model = ClassifierModel.create({ arch: 'squeezenet1_1', numClasses: 2 });
    const files = await exportModelFiles(model);
    model.dispose();
    const edit = (name: string, value: Uint8Array | null) => {
      const copy = new Map(files);
      if (value === null) copy.delete(name);
      else copy.set(name, value);
      return copy;
    };
    const manifest = JSON.parse(strFromU8(files.get('model.json')!));
    const withManifest = (m: object) => edit('model.json', strToU8(JSON.stringify({ ...manifest, ...m })));
    const cases: Array<[Map<string, Uint8Array>, RegExp]> = [
      [edit('model.json', null), /model\.json is missing/],
      [edit('model.json', strToU8('{oops')), /not valid JSON/],
      [edit('weights.bin', null), /weights file weights\.bin named in model\.json is missing/],
      [edit('weights.bin', files.get('weights.bin')!.slice(0, 100)), /weights hold 100 bytes/],
      [withManifest({ format: 'keras' }), /not a SceneLab classifier/],
      [withManifest({ arch: 'resnet50' }), /unknown architecture "resnet50"/],
      [withManifest({ labels: ['only-one'] }), /one string per class/],
      [withManifest({ preprocessing: { ...manifest.preprocessing, channelOrder: 'gbr' } }), /channelOrder/],
      [withManifest({ formatVersion: 9 }), /version 9/],
    ];
    for (const [broken, message] of cases) {
      expect(() => importModelFiles(broken)).toThrow(ModelFormatError);
      expect(() => importModelFiles(broken)).toThrow(message);
    }
    expect(() => unzipModelFiles(strToU8('not a zip'))).toThrow(/not a zip file/);
    expect(() => unzipModelFiles(zipSync({ 'readme.txt': strToU8('hi') }))).toThrow(/no model\.json/);
  });
});
