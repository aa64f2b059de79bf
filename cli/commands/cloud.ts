import { modelFolder } from '../../node/cloud-job';
import { explainJobError, followCustomJob, JobFailedError } from '../../node/vertex-training';
import { parse } from '../args';
import { bringBack, CLOUD_FLAGS, CLOUD_FLAGS_HELP, cloudClients, log, logState, setUpJob, showProgress, stageJob, withSigint, writeDryRun } from '../cloud/job-setup';
import { UsageError } from '../errors';
import { cloudTune } from './cloud-tune';

const HELP = `scenelab cloud — the same run on Vertex AI, brought back as a run directory

  scenelab cloud train --data DIR|FILE|gs://… --arch NAME --out RUN_DIR --project P --region R --staging gs://BUCKET/PREFIX [options]
  scenelab cloud tune  … the same, plus --search SPEC --trials N [--parallel N] [--metric val_accuracy|val_loss]

${CLOUD_FLAGS_HELP}

Credentials: Application Default Credentials (gcloud auth application-default login, or GOOGLE_APPLICATION_CREDENTIALS).
Ctrl-C stops following; the job goes on (cancel it in the console).`;

export async function cloudCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'train') return cloudTrain(rest);
  if (sub === 'tune') return cloudTune(rest);
  if (!sub || sub === '--help' || sub === '-h') {
    process.stdout.write(HELP + '\n');
    return sub ? 0 : 2;
  }
  throw new UsageError(`unknown cloud command "${sub}" (expected train or tune)`);
}

async function cloudTrain(argv: string[]): Promise<number> {
  const { values: v } = parse(argv, CLOUD_FLAGS);
  if (v.help) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  const setup = await setUpJob(v, 'cloud train', [], { progress: true });
  if (setup.dryRun) {
    await writeDryRun(setup, { customJob: setup.customJob });
    if (v.json) process.stdout.write(JSON.stringify({ dryRun: setup.dryRun, parent: setup.parent, customJob: setup.customJob }) + '\n');
    return 0;
  }
  const { storage, jobs } = cloudClients(setup, v);
  try {
    await stageJob(storage, setup);
    let created;
    try {
      [created] = await jobs.createCustomJob({ parent: setup.parent, customJob: setup.customJob });
    } catch (e) {
      throw explainJobError(e, `creating the job in ${setup.parent}`);
    }
    const jobName = created.name ?? '';
    log(`submitted ${jobName}`);
    const started = Date.now();
    let progressLines = 0;
    try {
      await withSigint(jobName, (signal) =>
        followCustomJob(jobs, jobName, {
          intervalMs: setup.pollMs,
          signal,
          onState: logState,
          onPoll: async () => {
            progressLines = await showProgress(storage, setup, progressLines);
          },
          onRetry: (e, attempt) => log(`cannot reach Vertex AI (${e.message.split('\n')[0]}); retrying (${attempt})`),
        }),
      );
    } catch (e) {
      // A failed job's message carries the trainer's last lines: show them all, not just the first.
      if (e instanceof JobFailedError) {
        log(`scenelab cloud: ${e.message}`);
        return 1;
      }
      throw e;
    }
    await showProgress(storage, setup, progressLines); // the epochs that ended after the last poll
    const { valAccuracy } = await bringBack(storage, setup, modelFolder(setup));
    const summary = { job: jobName, out: setup.out, seconds: Math.round((Date.now() - started) / 1000), valAccuracy };
    if (v.json) process.stdout.write(JSON.stringify(summary) + '\n');
    else log(`done: ${jobName} → ${setup.out}${valAccuracy !== null ? ` (validation accuracy ${valAccuracy.toFixed(4)})` : ''}`);
    return 0;
  } finally {
    await jobs.close();
  }
}
