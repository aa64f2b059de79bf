/**
 * ONNX Runtime's contender for `npm run bench` (inference only: onnxruntime has no training
 * here), in its own process: SceneLab's model exported by model/export's ONNX writer and run by
 * `onnxruntime-web`'s wasm build in Node, batch-1 latency and batch throughput timed as
 * bench/scenelab-step.ts and bench/reference/torch_bench.py time theirs.
 *
 *   npx tsx bench/ort-infer.ts --arch squeezenet1_1 --threads 1 --size 150 --infer-batch 64 --repeats 5
 */
import * as ort from 'onnxruntime-web';
import { exportOnnx } from '../model/export';
import { ClassifierModel, isArchName } from '../model/model';
import { caffeBgr } from '../model/preprocess';
import { initNodeBackend } from '../node/backend';
import { contenderArgs } from './contender-args';
import { medianSeconds } from './median';

const { arch, size, inferBatch, repeats } = contenderArgs();
if (!isArchName(arch)) throw new Error(`unknown arch ${arch}`);

// The model is built (and exported) by SceneLab on its wasm backend; ORT then runs on its own.
await initNodeBackend('wasm');
const model = ClassifierModel.create({ arch, numClasses: 6, seed: 0, preprocessing: caffeBgr(size) });
const onnx = await exportOnnx(model);
model.dispose();

// onnxruntime-web in Node runs its wasm on the calling thread; its proxy worker and thread
// pool are browser features, so more threads are not available to it here.
ort.env.wasm.numThreads = 1;
const session = await ort.InferenceSession.create(onnx, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
const input = (n: number): ort.Tensor => {
  const data = new Float32Array(n * 3 * size * size);
  for (let i = 0; i < data.length; i++) data[i] = Math.sin(i * 12.9898) * 2;
  return new ort.Tensor('float32', data, [n, 3, size, size]);
};
const one = input(1);
const many = input(inferBatch);
const run = (x: ort.Tensor) => async (): Promise<void> => {
  await session.run({ input: x });
};
const latencyS = await medianSeconds(run(one), repeats * 4);
const inferS = await medianSeconds(run(many), repeats);
await session.release();

process.stdout.write(
  JSON.stringify({
    contender: 'onnxruntime-node',
    version: `onnxruntime-web ${ort.env.versions.web ?? ''} wasm`,
    threads: 1,
    latencyMs: latencyS * 1000,
    inferImagesPerSecond: inferBatch / inferS,
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
  }) + '\n',
);
