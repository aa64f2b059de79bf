import { FeatureStore } from '../../model/feature-cache';
import { runTraining, type RunInput, type RunOutcome } from '../../model/run/pipeline';
import { bestTrial, isBetter, runObjective, runStudy, trialRunInput, type Budget, type Study } from '../../model/tune';
import { backendFromOptions, initNodeBackend } from '../../node/backend';
import { nodeReplicas, trainingThreads } from '../../node/replicas';
import { numberOption, parse } from '../args';
import { UsageError } from '../errors';
import { writeRunDir } from '../run-input';
import { RUN_FLAGS, RUN_FLAGS_HELP } from '../run-options';
import { loadBaseRun, makePruner, makeSampler, OBJECTIVE_FLAGS, tuneSetup } from '../tune/setup';
import { writeStudyFile } from '../tune/study-store';
import { createTuneTable, summaryLines } from '../tune/table';

const HELP = `scenelab tune — search hyperparameters: each trial is a "scenelab train" run, scored on validation images

  scenelab tune --data DIR --weights F.pth --freeze --trials 20 --study study.json [--best-out RUN_DIR]
  scenelab tune --study study.json --best-out RUN_DIR      the best trial of a study as a run directory

  --study FILE.json     the study: written after every trial state change; the same command again resumes it
                        (finished trials are kept, a trial that was cut off runs again)
  --trials N            trials the study should hold (counting earlier ones)   --time-budget SECONDS   for this session
  --sampler tpe|random  (tpe: Optuna's defaults, 10 random trials first)       --seed N   run and sampler seed (0)
  --pruner median|halving|none   stop hopeless trials between epochs (median)
  --objective val-accuracy|val-loss   what trials are scored by (val-accuracy)
  --space FILE.json     the search space (model/tune distributions); default: arch, freeze, learningRate,
                        batchSize, epochs, optimizer, weight decay, hflip
  --best-out RUN_DIR    write the best trial as a run directory, as scenelab train writes it
  --val-data DIR|FILE   validation images (default: a held-out --val-split of --data)

Run flags fix what they set for every trial and take it out of the search (--freeze: head-only trials only;
--arch, --lr, --batch-size, --epochs, --optimizer, --weight-decay, --no-flip likewise):
  --data DIR|FILE       Intel-layout folder or Vertex AI import file
${RUN_FLAGS_HELP}
  --gs-root DIR         folder holding gs://bucket/object as DIR/bucket/object, for import files
  --backend B           wasm (default) | webgpu | cpu
  --threads N           threads each wasm trial uses: replicas of the model on N - 1 worker threads (default: the cores, at most 4)
  --json                print the summary as one JSON object (the table goes to stderr)`;

export async function tuneCommand(argv: string[]): Promise<number> {
  const { values: v } = parse(argv, {
    ...RUN_FLAGS,
    'val-data': { type: 'string' },
    study: { type: 'string' },
    trials: { type: 'string' },
    'time-budget': { type: 'string' },
    sampler: { type: 'string' },
    pruner: { type: 'string' },
    objective: { type: 'string' },
    space: { type: 'string' },
    'best-out': { type: 'string' },
    'gs-root': { type: 'string' },
    backend: { type: 'string' },
    threads: { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (v.help) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  if (!v.study) throw new UsageError('--study FILE.json is required (where the study is kept)');
  const budget: Budget = {};
  if (v.trials !== undefined) budget.maxTrials = numberOption('trials', v.trials, 0, true);
  if (v['time-budget'] !== undefined) budget.maxSeconds = numberOption('time-budget', v['time-budget'], 0);
  if ((budget.maxTrials ?? 1) < 1 || (budget.maxSeconds ?? 1) <= 0) throw new UsageError('--trials and --time-budget must be positive');
  const searching = budget.maxTrials !== undefined || budget.maxSeconds !== undefined;
  if (!searching && !v['best-out']) throw new UsageError('give --trials N or --time-budget SECONDS (or --best-out RUN_DIR to write the best trial of a study)');
  if (v.objective !== undefined && !OBJECTIVE_FLAGS[v.objective]) throw new UsageError(`--objective must be ${Object.keys(OBJECTIVE_FLAGS).join(' or ')}, got "${v.objective}"`);
  makeSampler(v.sampler, 0); // a bad name is refused before anything is read
  const pruner = makePruner(v.pruner);

  const setup = await tuneSetup(v.study, v);
  const { study, space, objective } = setup;
  // The run's seed seeds the sampler too, so a study continued without flags samples as it began.
  const sampler = makeSampler(v.sampler, setup.run.config.options.seed);
  if (!searching && !bestTrial(study)) throw new UsageError(`--study ${v.study} has no complete trial yet: run trials first (--trials N)`);
  const threads = v.threads === undefined ? trainingThreads() : Number(v.threads);
  if (!Number.isInteger(threads) || threads < 1) throw new UsageError(`--threads must be a whole number ≥ 1, got "${v.threads}"`);
  const backend = await initNodeBackend(backendFromOptions(v.backend));
  // Replicas on worker threads run on wasm; a GPU backend has one device to share.
  const replicas = backend.name === 'wasm' ? nodeReplicas(threads) : undefined;
  const base = await loadBaseRun(setup.run, space);
  const metric = objective === 'valAccuracy' ? 'val_accuracy' : 'val_loss';
  const out = v.json ? process.stderr : process.stdout;
  const store = new FeatureStore();
  let kept: { trial: number; outcome: RunOutcome; value: number } | null = null;
  const started = performance.now();
  let reason: string | null = null;
  let trialsRun = 0;

  if (searching) {
    const table = createTuneTable(study, out, Boolean((out as NodeJS.WriteStream).isTTY), metric);
    const controller = new AbortController();
    const onSigint = (): void => controller.abort();
    process.once('SIGINT', onSigint);
    try {
      const result = await runStudy(
        study,
        space,
        runObjective({
          base,
          objective,
          featureStore: store,
          ...(replicas && { replicas }),
          onRunEvent: (trial, e) => table.onRunEvent(trial, e),
          // Only the best trial's files are kept, so --best-out need not train it again.
          onComplete: (trial, outcome, value) => {
            if (v['best-out'] && (!kept || isBetter(study.direction, value, kept.value))) kept = { trial, outcome, value };
          },
        }),
        { sampler, pruner, budget, signal: controller.signal, save: (s) => writeStudyFile(v.study!, s), onEvent: (e) => table.onTuneEvent(e) },
      );
      reason = result.reason;
      trialsRun = result.trialsRun;
    } finally {
      process.off('SIGINT', onSigint);
    }
  }
  const seconds = (performance.now() - started) / 1000;
  for (const line of summaryLines(study, metric, seconds, trialsRun)) out.write(line + '\n');
  if (reason === 'aborted') out.write(`stopped; run the same command to continue the study in ${v.study}\n`);
  if (reason === 'failures') out.write(`stopped: the last trials failed (${study.trials.at(-1)?.failure?.message ?? ''})\n`);

  let bestOut: { trial: number; value: number; retrained: boolean } | null = null;
  const best = bestTrial(study);
  if (v['best-out'] && best && reason !== 'aborted') {
    bestOut = await writeBest(v['best-out'], study, base, store, kept, metric, out);
  }
  if (v.json) {
    process.stdout.write(
      JSON.stringify({ study: v.study, reason, trials: study.trials.length, trialsRun, seconds: Number(seconds.toFixed(1)), best: best && { trial: best.number, value: best.value, params: best.params }, bestOut }) + '\n',
    );
  }
  return reason === 'aborted' ? 130 : reason === 'failures' ? 1 : 0;
}

/** Writes the best trial as a run directory: the run kept from this session, else the trial trained again. */
async function writeBest(
  dir: string,
  study: Study,
  base: RunInput,
  store: FeatureStore,
  kept: { trial: number; outcome: RunOutcome } | null,
  metric: string,
  out: NodeJS.WritableStream,
): Promise<{ trial: number; value: number; retrained: boolean }> {
  const best = bestTrial(study)!;
  let outcome = kept?.trial === best.number ? kept.outcome : null;
  const retrained = outcome === null;
  if (!outcome) {
    out.write(`training trial #${best.number} again to write it (its run is from an earlier session)\n`);
    outcome = await runTraining(trialRunInput(base, best.params), { featureStore: store });
  }
  await writeRunDir(dir, outcome);
  const record = outcome.result.history.find((h) => h.epoch === outcome.result.bestEpoch);
  const value = (study.objective === 'valLoss' ? record?.valLoss : record?.valAccuracy) ?? NaN;
  out.write(`best trial #${best.number} written to ${dir} (${metric} ${value.toFixed(4)})\n`);
  return { trial: best.number, value, retrained };
}
