// `scenelab cloud train` against Vertex AI's published protocols, locally: the real
// @google-cloud/aiplatform and @google-cloud/storage clients talk to a JobService emulator and a
// Cloud Storage emulator; when the job runs, the staged trainer package runs for real with
// Debian's PyTorch (two replicas, CLUSTER_SPEC rendezvous), and the run comes back.
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { GcsEmulator } from '../emulators/gcs-emulator';
import { JobEmulator } from '../emulators/job-emulator';
import { vertexMachines } from '../emulators/vertex-machines';
import { intelFiles, PRETRAINED } from '../helpers/intel';

const ROOT = path.resolve(import.meta.dirname, '../..');
const CLASSES = ['forest', 'sea', 'street'];
const tmp = mkdtempSync(path.join(tmpdir(), 'scenelab-cloud-'));

function scenelab(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'bin/scenelab.js'), ...args], { cwd: ROOT, env: { ...process.env, SCENELAB_DEBUG: '' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('scenelab cloud train', () => {
  const data = path.join(tmp, 'data');
  const test = path.join(tmp, 'test');
  let gcs: GcsEmulator;
  let jobs: JobEmulator;
  const common = (name: string): string[] => [
    '--data', data, '--arch', 'squeezenet1_1', '--weights', PRETRAINED, '--freeze', '--epochs', '2', '--batch-size', '8', '--seed', '4',
    '--project', 'scenelab-test', '--region', 'europe-west4', '--staging', 'gs://scenelab-staging/jobs', '--name', name,
  ];
  const endpoints = (): string[] => ['--vertex-api-endpoint', jobs.address, '--gcs-api-endpoint', gcs.endpoint, '--poll-seconds', '0.2'];

  beforeAll(async () => {
    for (const [dir, split, n] of [[data, 'train', 12], [test, 'test', 8]] as const) {
      for (const { file, label } of intelFiles(split, n, CLASSES)) {
        mkdirSync(path.join(dir, CLASSES[label]!), { recursive: true });
        copyFileSync(file, path.join(dir, CLASSES[label]!, path.basename(file)));
      }
    }
    gcs = await GcsEmulator.start('scenelab-staging');
    jobs = await JobEmulator.start(vertexMachines(gcs));
  });
  afterAll(async () => {
    await jobs.stop();
    await gcs.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  // Each test starts with a working network, whatever the one before it left behind.
  beforeEach(() => {
    jobs.unavailable = 0;
  });

  it('--dry-run writes the CustomJob exactly as it would be sent, and the trainer beside it', async () => {
    const dir = path.join(tmp, 'dry');
    const r = await scenelab(['cloud', 'train', ...common('dry-1'), '--replicas', '2', '--machine-type', 'n1-standard-8', '--accelerator', 'NVIDIA_TESLA_T4:1', '--dry-run', dir]);
    expect(r.code, r.stderr).toBe(0);
    const written = JSON.parse(readFileSync(path.join(dir, 'job.json'), 'utf8'));
    const pool = {
      machineSpec: { machineType: 'n1-standard-8', acceleratorType: 'NVIDIA_TESLA_T4', acceleratorCount: 1 },
      pythonPackageSpec: {
        executorImageUri: 'us-docker.pkg.dev/vertex-ai/training/pytorch-gpu.1-13.py310:latest',
        packageUris: ['gs://scenelab-staging/jobs/dry-1/trainer/scenelab-trainer-0.1.0.tar.gz'],
        pythonModule: 'trainer.task',
        args: [
          '--data=/gcs/scenelab-staging/jobs/dry-1/data',
          '--weights=/gcs/scenelab-staging/jobs/dry-1/weights/squeezenet1_1-features-imagenet.pth',
          '--arch=squeezenet1_1', '--preprocessing=auto', '--val-split=0.1', '--epochs=2', '--batch-size=8', '--lr=0.001',
          '--optimizer=adam', '--momentum=0.9', '--weight-decay=0', '--seed=4', '--freeze',
          '--progress=/gcs/scenelab-staging/jobs/dry-1/output/progress.jsonl',
        ],
      },
    };
    expect(written).toEqual({
      parent: 'projects/scenelab-test/locations/europe-west4',
      customJob: {
        displayName: 'dry-1',
        jobSpec: {
          workerPoolSpecs: [{ ...pool, replicaCount: '1' }, { ...pool, replicaCount: '1' }],
          baseOutputDirectory: { outputUriPrefix: 'gs://scenelab-staging/jobs/dry-1/output' },
        },
        labels: { 'created-by': 'scenelab', arch: 'squeezenet1-1' },
      },
    });
    expect(existsSync(path.join(dir, 'trainer', 'task.py'))).toBe(true);
    expect(existsSync(path.join(dir, 'setup.py'))).toBe(true);
    expect(jobs.calls).toEqual([]);
    expect(gcs.objects.size).toBe(0);
  });

  it('stages, submits, follows through a network drop, runs two replicas and brings the run back for eval', async () => {
    const out = path.join(tmp, 'run');
    const pending = scenelab(['cloud', 'train', ...common('job-1'), '--replicas', '2', '--out', out, ...endpoints()]);
    // Drop the connection for two polls once following has begun (staging alone can take a
    // minute on a busy machine, and a drop during CreateCustomJob is another test's matter).
    let settled = false;
    void pending.finally(() => (settled = true));
    while (!settled && !jobs.calls.some((c) => c.method === 'GetCustomJob')) await new Promise((r) => setTimeout(r, 50));
    jobs.unavailable = 2;
    const r = await pending;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/cannot reach Vertex AI .*retrying \(1\)/);
    expect(r.stderr).toMatch(/running[\s\S]*succeeded/);
    // The trainer's epochs, read from the progress file it keeps beside its outputs while the job runs.
    expect(gcs.objects.has('jobs/job-1/output/progress.jsonl')).toBe(true);
    expect(r.stderr).toMatch(/epoch 1\/2 loss [\d.]+ val acc [\d.]+ \([\d.]+ images\/s/);
    expect(r.stderr).toMatch(/epoch 2\/2 loss/);

    const create = jobs.calls.filter((c) => c.method === 'CreateCustomJob');
    expect(create).toHaveLength(1);
    const body = create[0]!.request as { parent: string; customJob: { displayName: string; jobSpec: { workerPoolSpecs: Array<{ replicaCount: string; pythonPackageSpec: { args: string[] } }> } } };
    expect(body.parent).toBe('projects/scenelab-test/locations/europe-west4');
    expect(body.customJob.displayName).toBe('job-1');
    expect(body.customJob.jobSpec.workerPoolSpecs.map((p) => p.replicaCount)).toEqual(['1', '1']);
    expect(body.customJob.jobSpec.workerPoolSpecs[0]!.pythonPackageSpec.args[0]).toBe('--data=/gcs/scenelab-staging/jobs/job-1/data');
    expect(gcs.objects.has('jobs/job-1/trainer/scenelab-trainer-0.1.0.tar.gz')).toBe(true);
    expect([...gcs.objects.keys()].filter((k) => k.startsWith('jobs/job-1/data/'))).toHaveLength(36);

    for (const f of ['model.json', 'weights.bin', 'model.pth', 'labels.json', 'preprocessing.json', 'hyperparameters.json', 'history.json', 'metrics.json', 'curves.svg']) {
      expect(existsSync(path.join(out, f)), f).toBe(true);
    }
    expect(JSON.parse(readFileSync(path.join(out, 'labels.json'), 'utf8'))).toEqual(CLASSES);
    expect(JSON.parse(readFileSync(path.join(out, 'history.json'), 'utf8'))).toHaveLength(2);
    const evalRun = await scenelab(['eval', '--model', out, '--data', test, '--json']);
    expect(evalRun.code, evalRun.stderr).toBe(0);
    expect(JSON.parse(evalRun.stdout).accuracy).toBeGreaterThan(0.6);
  });

  it('a failed job names its replica and shows the trainer\'s last lines', async () => {
    const r = await scenelab(['cloud', 'train', ...common('job-2').map((a) => (a === data ? 'gs://scenelab-staging/nowhere' : a)), '--out', path.join(tmp, 'never'), ...endpoints()]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ended failed: The replica workerpool0-0 exited with a non-zero status of \d+/);
    expect(r.stderr).toMatch(/nowhere/);
    expect(existsSync(path.join(tmp, 'never'))).toBe(false);
  });

  it('a quota refusal says what to do, and nothing runs', async () => {
    jobs.refuseCreate = { code: status.RESOURCE_EXHAUSTED, details: 'Quota exceeded for aiplatform.googleapis.com/custom_model_training_cpus' };
    const r = await scenelab(['cloud', 'train', ...common('job-3'), '--out', path.join(tmp, 'never'), ...endpoints()]);
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim()).toMatch(/quota exceeded .*use fewer or smaller machines$/);
    expect([...jobs.jobs.keys()].some((k) => k.endsWith('job-3'))).toBe(false);
  });

  it('bad flags are refused before anything is staged', async () => {
    const before = gcs.objects.size;
    for (const [args, message] of [
      [['--replicas', '0'], /--replicas must be an integer from 1 to 64/],
      [['--accelerator', 't4'], /--accelerator must be TYPE:COUNT/],
      [['--region', 'mars'], /--region mars: expected a region/],
    ] as const) {
      const r = await scenelab(['cloud', 'train', ...common('job-4'), '--out', path.join(tmp, 'x'), ...args, ...endpoints()]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(message);
    }
    expect(gcs.objects.size).toBe(before);
  });
});
