import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { JobServiceClient } from '@google-cloud/aiplatform';
import { Storage } from '@google-cloud/storage';
import { initNodeBackend } from '../../node/backend';
import { downloadFolder, parseGs, planData, planWeights, stage, uploadObject, writeRunFromTrainer } from '../../node/cloud-run';
import { vertexClientOptions } from '../../node/google-cloud';
import { copyTrainer, trainerSdist } from '../../node/trainer-package';
import { customJobSpec, explainJobError, followCustomJob, JobFailedError, parseAccelerator, type JobState } from '../../node/vertex-training';
import { numberOption, parse } from '../args';
import { UsageError } from '../errors';
import { RUN_FLAGS, RUN_FLAGS_HELP, runConfigFromFlags, runConfigToFlags } from '../run-options';

const HELP = `scenelab cloud train — the same run on Vertex AI custom training (PyTorch), brought back as a run directory

  scenelab cloud train --data DIR|FILE|gs://… --arch NAME --out RUN_DIR --project P --region R --staging gs://BUCKET/PREFIX [options]

  --data DIR|FILE|gs://…  as for scenelab train; a local folder or import file is uploaded to the staging prefix,
                          gs:// data is read where it is (through Cloud Storage FUSE, /gcs/…)
  --out RUN_DIR           where the trained run comes back (model.json, weights.bin, model.pth, metrics, curves)
${RUN_FLAGS_HELP}
  --project P, --region R the Google Cloud project and Vertex AI region (e.g. europe-west4)
  --staging gs://B/P      where the trainer package, data, weights and outputs go (a new folder per job)
  --replicas N            machines (1): more run torch.distributed data-parallel training
  --machine-type T        (n1-standard-4)   --accelerator TYPE:COUNT  e.g. NVIDIA_TESLA_T4:1
  --executor-image URI    another training container (default: Vertex AI's prebuilt PyTorch image)
  --name NAME             job name (default scenelab-ARCH-TIMESTAMP)
  --dry-run DIR           write DIR/job.json (the CustomJob as it would be sent) and DIR/trainer/, submit nothing
  --poll-seconds N        how often to ask for the job's state (10)
  --vertex-api-endpoint URL, --gcs-api-endpoint URL   other endpoints (http://host:port for local emulators)
  --json                  print the result as one JSON object

Credentials: Application Default Credentials (gcloud auth application-default login, or GOOGLE_APPLICATION_CREDENTIALS).
Ctrl-C stops following; the job goes on (cancel it in the console).`;

export async function cloudCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'train') return cloudTrain(rest);
  if (!sub || sub === '--help' || sub === '-h') {
    process.stdout.write(HELP + '\n');
    return sub ? 0 : 2;
  }
  throw new UsageError(`unknown cloud command "${sub}" (expected train)`);
}

async function cloudTrain(argv: string[]): Promise<number> {
  const { values: v } = parse(argv, {
    ...RUN_FLAGS,
    out: { type: 'string' },
    project: { type: 'string' },
    region: { type: 'string' },
    staging: { type: 'string' },
    replicas: { type: 'string' },
    'machine-type': { type: 'string' },
    accelerator: { type: 'string' },
    'executor-image': { type: 'string' },
    name: { type: 'string' },
    'dry-run': { type: 'string' },
    'poll-seconds': { type: 'string' },
    'vertex-api-endpoint': { type: 'string' },
    'gcs-api-endpoint': { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (v.help) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  if (!v.data) throw new UsageError('--data is required (a folder, an import file or gs://…)');
  const config = runConfigFromFlags(v);
  const dryRun = v['dry-run'];
  for (const flag of ['project', 'region', 'staging'] as const) if (!v[flag]) throw new UsageError(`--${flag} is required (see scenelab cloud train --help)`);
  if (!dryRun && !v.out) throw new UsageError('--out is required (where the trained run comes back)');
  const project = v.project!;
  const region = v.region!;
  if (!/^[a-z]+-[a-z]+\d+$/.test(region)) throw new UsageError(`--region ${region}: expected a region such as europe-west4`);
  if (!/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/.test(project)) throw new UsageError(`--project ${project}: not a project id`);
  const staging = parseGs(v.staging!, '--staging');
  const replicas = numberOption('replicas', v.replicas, 1, true);
  const resources = {
    machineType: v['machine-type'] ?? 'n1-standard-4',
    accelerator: parseAccelerator(v.accelerator),
    replicas,
    ...(v['executor-image'] && { executorImageUri: v['executor-image'] }),
  };
  const name = v.name ?? `scenelab-${config.arch.replace(/_/g, '-')}-${new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14)}`;
  if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(name)) throw new UsageError(`--name ${name}: use lower-case letters, digits and "-"`);
  const prefix = [staging.path, name].filter(Boolean).join('/');
  const log = (line: string): void => void process.stderr.write(`${line}\n`);

  const dataPlan = await planData(v.data, staging.bucket, prefix);
  const weightsPlan = v.weights ? await planWeights(v.weights, staging.bucket, prefix) : null;
  const sdist = await trainerSdist();
  const packageObject = `${prefix}/trainer/${sdist.name}`;
  const outputUriPrefix = `gs://${staging.bucket}/${prefix}/output`;
  const args = [`--data=${dataPlan.trainerPath}`, ...(weightsPlan ? [`--weights=${weightsPlan.trainerPath}`] : []), ...runConfigToFlags(config)];
  const customJob = customJobSpec({ displayName: name, packageUri: `gs://${staging.bucket}/${packageObject}`, args, outputUriPrefix, resources, labels: { arch: config.arch.replace(/_/g, '-') } });
  const parent = `projects/${project}/locations/${region}`;

  if (dryRun) {
    await mkdir(dryRun, { recursive: true });
    await writeFile(path.join(dryRun, 'job.json'), JSON.stringify({ parent, customJob }, null, 2) + '\n');
    await copyTrainer(dryRun);
    log(`wrote ${path.join(dryRun, 'job.json')} and ${path.join(dryRun, 'trainer')}/; nothing submitted`);
    log(`run it here: cd ${dryRun} && python3 -m trainer.task --data ${v.data} ${v.weights ? `--weights ${v.weights} ` : ''}${runConfigToFlags(config).join(' ')} --out RUN_DIR`);
    if (v.json) process.stdout.write(JSON.stringify({ dryRun, parent, customJob }) + '\n');
    return 0;
  }

  const storage = new Storage({ projectId: project, ...(v['gcs-api-endpoint'] ? { apiEndpoint: v['gcs-api-endpoint'] } : {}) });
  await uploadObject(storage, staging.bucket, packageObject, sdist.bytes, 'application/gzip');
  log(`staged gs://${staging.bucket}/${packageObject}`);
  await stage(storage, staging.bucket, dataPlan, (done, total) => {
    if (done === total || done % 200 === 0) log(`staged data: ${done}/${total} files`);
  });
  if (weightsPlan) await stage(storage, staging.bucket, weightsPlan);

  const jobs = new JobServiceClient(vertexClientOptions(region, v['vertex-api-endpoint']));
  try {
    let created;
    try {
      [created] = await jobs.createCustomJob({ parent, customJob });
    } catch (e) {
      throw explainJobError(e, `creating the job in ${parent}`);
    }
    const jobName = created.name ?? '';
    log(`submitted ${jobName}`);
    const controller = new AbortController();
    const onSigint = (): void => controller.abort(new UsageError(`stopped following ${jobName}; the job goes on`));
    process.once('SIGINT', onSigint);
    const started = Date.now();
    try {
      await followCustomJob(jobs, jobName, {
        intervalMs: numberOption('poll-seconds', v['poll-seconds'], 10) * 1000,
        signal: controller.signal,
        onState: (state: JobState) => log(`${new Date().toISOString().slice(11, 19)} ${state.replace('JOB_STATE_', '').toLowerCase()}`),
        onRetry: (e, attempt) => log(`cannot reach Vertex AI (${e.message.split('\n')[0]}); retrying (${attempt})`),
      });
    } catch (e) {
      // A failed job's message carries the trainer's last lines: show them all, not just the first.
      if (e instanceof JobFailedError) {
        log(`scenelab cloud: ${e.message}`);
        return 1;
      }
      throw e;
    } finally {
      process.off('SIGINT', onSigint);
    }
    const files = await downloadFolder(storage, staging.bucket, `${prefix}/output/model`);
    await initNodeBackend('wasm');
    await writeRunFromTrainer(files, v.out!);
    const metrics = files.get('metrics.json') ? (JSON.parse(new TextDecoder().decode(files.get('metrics.json'))) as { accuracy?: number }) : null;
    const summary = { job: jobName, out: v.out, seconds: Math.round((Date.now() - started) / 1000), valAccuracy: metrics?.accuracy ?? null };
    if (v.json) process.stdout.write(JSON.stringify(summary) + '\n');
    else log(`done: ${jobName} → ${v.out}${summary.valAccuracy !== null ? ` (validation accuracy ${summary.valAccuracy.toFixed(4)})` : ''}`);
    return 0;
  } finally {
    await jobs.close();
  }
}
