import { isTrainEvent, runTraining } from '../../model/run/pipeline';
import { backendFromOptions, initNodeBackend } from '../../node/backend';
import { nodeReplicas, trainingThreads } from '../../node/replicas';
import { parse } from '../args';
import { UsageError } from '../errors';
import { createTrainProgress } from '../progress';
import { readRunData, readWeightsFlag, writeRunDir } from '../run-input';
import { RUN_FLAGS, RUN_FLAGS_HELP, runConfigFromFlags } from '../run-options';

const HELP = `scenelab train — fine-tune a classifier on a labelled image folder

  --data DIR|FILE       Intel-layout folder (<class>/*.jpg, seg_train/seg_train/<class>/…) or a Vertex AI import file
  --out RUN_DIR         where the run is written (model.json, weights.bin, model.pth, metrics, curves)
${RUN_FLAGS_HELP}
  --gs-root DIR         folder holding gs://bucket/object as DIR/bucket/object, for import files
  --backend B           wasm (default) | webgpu (Dawn: a GPU driver, or SwiftShader) | cpu; or SCENELAB_BACKEND
  --threads N           threads a wasm run uses: replicas of the model on N - 1 worker threads (default: the cores, at most 4)
  --json                print the summary as one JSON object`;

export async function trainCommand(argv: string[]): Promise<number> {
  const { values: v } = parse(argv, {
    ...RUN_FLAGS,
    out: { type: 'string' },
    'gs-root': { type: 'string' },
    json: { type: 'boolean' },
    backend: { type: 'string' },
    threads: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (v.help) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  if (!v.data) throw new UsageError('--data is required (a folder of <class>/ images or an import file)');
  const config = runConfigFromFlags(v);
  if (!v.out) throw new UsageError('--out is required (the run directory to write)');

  const weights = v.weights ? await readWeightsFlag(v.weights) : null;
  const { classes, pool, validation, problems } = await readRunData(v.data, { gsRoot: v['gs-root'] });
  for (const p of problems) process.stderr.write(`skipped ${p.source}: ${p.reason}\n`);

  const threads = v.threads === undefined ? trainingThreads() : Number(v.threads);
  if (!Number.isInteger(threads) || threads < 1) throw new UsageError(`--threads must be a whole number ≥ 1, got "${v.threads}"`);
  const backend = await initNodeBackend(backendFromOptions(v.backend));
  // Replicas on worker threads run on wasm; a GPU backend has one device to share.
  const replicas = backend.name === 'wasm' ? nodeReplicas(threads) : undefined;
  const log = (s: string): void => void (v.json ? process.stderr : process.stdout).write(s + '\n');

  const controller = new AbortController();
  const onSigint = (): void => controller.abort();
  process.once('SIGINT', onSigint);
  const progress = createTrainProgress(process.stderr, Boolean(process.stderr.isTTY));
  const started = performance.now();
  const run = await runTraining(
    { config, classes, pool, validation, weights: weights && { name: v.weights!, stateDict: weights } },
    {
      signal: controller.signal,
      ...(replicas && { replicas }),
      onEvent: (e) => {
        if (e.type === 'data') log(`data: ${e.train + e.validation} images in ${classes.length} classes (${classes.join(', ')}); ${e.train} train / ${e.validation} validation`);
        else if (e.type === 'model') log(`model: ${e.arch}, ${e.parameters.toLocaleString('en')} parameters, preprocessing ${e.preprocessing}, backend ${backend.name}${backend.simd ? '+simd' : ''}${backend.adapter ? ` (${backend.adapter})` : ''}`);
        else if (e.type === 'weights') {
          const r = e.report;
          log(`weights: filled ${r.filled.length} tensors from ${e.name}; ${r.kept.length} keep their initial values${r.kept.length ? ` (${summarise(r.kept)})` : ''}${r.headReplaced.length ? `; head replaced (${summarise(r.headReplaced)})` : ''}`);
        } else if (isTrainEvent(e)) progress(e);
      },
    },
  ).finally(() => process.off('SIGINT', onSigint));
  const trainSeconds = (performance.now() - started) / 1000;
  const { result, metrics } = run;
  await writeRunDir(v.out, run);
  const summary = {
    out: v.out,
    epochs: result.history.length,
    bestEpoch: result.bestEpoch,
    cancelled: result.cancelled,
    stoppedEarly: result.stoppedEarly,
    trainSeconds: Number(trainSeconds.toFixed(1)),
    valAccuracy: metrics?.accuracy ?? null,
    skipped: result.skipped,
  };
  if (v.json) process.stdout.write(JSON.stringify(summary) + '\n');
  else {
    log(`${result.cancelled ? 'cancelled; saved what was learnt' : 'done'} in ${trainSeconds.toFixed(1)} s${metrics ? `; validation accuracy ${metrics.accuracy.toFixed(4)}` : ''}; run written to ${v.out}`);
    if (result.skipped.length) log(`${result.skipped.length} image(s) skipped (listed above)`);
  }
  return result.cancelled ? 130 : 0;
}

function summarise(names: string[]): string {
  return names.length <= 4 ? names.join(', ') : `${names.slice(0, 3).join(', ')} and ${names.length - 3} more`;
}
