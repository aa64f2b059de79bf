import { modelFolder } from '../../node/cloud-job';
import { numberOption, parse } from '../args';
import { bringBack, CLOUD_FLAGS, CLOUD_FLAGS_HELP, cloudClients, log, logState, setUpJob, stageJob, withSigint, writeDryRun } from '../cloud/job-setup';
import { UsageError } from '../errors';
import { explainJobError, followJob, JobFailedError } from '../../node/vertex-training';
import { bestTrial, parseSearchSpace, trialsOf, TUNABLE_FLAGS, TUNING_METRICS, tuningJobSpec, type TuningMetric } from '../../node/vertex-tuning';

const HELP = `scenelab cloud tune — a hyperparameter search on Vertex AI (Vizier); the best trial comes back as a run

  scenelab cloud tune --data … --arch NAME --out RUN_DIR --project P --region R --staging gs://B/P \\
    --search "lr=1e-4..1e-2:log,batch-size=16|32|64,optimizer=adam|sgd" --trials 20 [--parallel 4]

  --search SPEC           flag=range items: a..b (add :log for a log scale; whole numbers for batch-size and epochs),
                          or values a|b|c; searchable: ${TUNABLE_FLAGS.join(', ')}. The other run flags are fixed for every trial.
  --trials N (10)         --parallel N (1)   trials in all, and at once
  --metric M              ${Object.keys(TUNING_METRICS).join(' | ')} (val_accuracy); loss is minimised, accuracy maximised
  --random                random search instead of Vizier's default (Bayesian optimisation)
${CLOUD_FLAGS_HELP}`;

export async function cloudTune(argv: string[]): Promise<number> {
  const { values: v } = parse(argv, { ...CLOUD_FLAGS, search: { type: 'string' }, trials: { type: 'string' }, parallel: { type: 'string' }, metric: { type: 'string' }, random: { type: 'boolean' } });
  if (v.help) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  if (!v.search) throw new UsageError('--search is required (e.g. "lr=1e-4..1e-2:log,batch-size=16|32|64")');
  const params = parseSearchSpace(v.search);
  const metric = (v.metric ?? 'val_accuracy') as TuningMetric;
  if (!(metric in TUNING_METRICS)) throw new UsageError(`--metric must be ${Object.keys(TUNING_METRICS).join(', ')}, got "${metric}"`);
  const maxTrials = numberOption('trials', v.trials, 10, true);
  const parallel = numberOption('parallel', v.parallel, 1, true);
  const setup = await setUpJob(v, 'cloud tune', [`--hypertune-metric=${metric}`]);
  const hyperparameterTuningJob = tuningJobSpec({
    displayName: setup.name,
    trialJobSpec: setup.customJob.jobSpec as Record<string, unknown>,
    params,
    metric,
    maxTrials,
    parallelTrials: parallel,
    algorithm: v.random ? 'RANDOM_SEARCH' : 'ALGORITHM_UNSPECIFIED',
    labels: setup.customJob.labels as Record<string, string>,
  });
  if (setup.dryRun) {
    await writeDryRun(setup, { hyperparameterTuningJob });
    if (v.json) process.stdout.write(JSON.stringify({ dryRun: setup.dryRun, parent: setup.parent, hyperparameterTuningJob }) + '\n');
    return 0;
  }
  const { storage, jobs } = cloudClients(setup, v);
  try {
    await stageJob(storage, setup);
    let created;
    try {
      [created] = await jobs.createHyperparameterTuningJob({ parent: setup.parent, hyperparameterTuningJob });
    } catch (e) {
      throw explainJobError(e, `creating the tuning job in ${setup.parent}`);
    }
    const jobName = created.name ?? '';
    log(`submitted ${jobName}: ${maxTrials} trials over ${params.map((p) => p.flag).join(', ')}`);
    let reported = 0;
    let job: Record<string, unknown>;
    try {
      job = await withSigint(jobName, (signal) =>
        followJob(
          async () => {
            const [j] = (await jobs.getHyperparameterTuningJob({ name: jobName })) as unknown as [Record<string, unknown>];
            // Each finished trial as it lands.
            for (const t of trialsOf(j, metric).filter((t) => t.state === 'SUCCEEDED' || t.state === 'INFEASIBLE').slice(reported)) {
              log(`trial ${t.id}: ${Object.entries(t.params).map(([k, x]) => `${k}=${typeof x === 'number' ? Number(x.toPrecision(4)) : x}`).join(' ')} → ${t.value === null ? t.state.toLowerCase() : `${metric} ${t.value.toFixed(4)}`}`);
              reported++;
            }
            return j;
          },
          jobName,
          { intervalMs: setup.pollMs, signal, onState: logState, onRetry: (e, attempt) => log(`cannot reach Vertex AI (${e.message.split('\n')[0]}); retrying (${attempt})`) },
        ),
      );
    } catch (e) {
      if (e instanceof JobFailedError) {
        log(`scenelab cloud: ${e.message}`);
        return 1;
      }
      throw e;
    }
    const trials = trialsOf(job, metric);
    const best = bestTrial(trials, metric);
    if (!best) throw new Error(`${jobName} succeeded but no trial reported ${metric}`);
    const { valAccuracy } = await bringBack(storage, setup, modelFolder(setup, best.id));
    const summary = { job: jobName, out: setup.out, bestTrial: best, trials: trials.length, valAccuracy };
    if (v.json) process.stdout.write(JSON.stringify(summary) + '\n');
    else log(`best: trial ${best.id} (${metric} ${best.value!.toFixed(4)}) → ${setup.out}`);
    return 0;
  } finally {
    await jobs.close();
  }
}
