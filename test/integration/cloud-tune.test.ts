// `scenelab cloud tune` against the JobService emulator: the exact HyperparameterTuningJob, trials
// run for real by the staged trainer (each gets its `--flag=value` parameters and reports its metric
// the way the tuning service reads it), and the best trial comes back as a run.
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GcsEmulator } from '../emulators/gcs-emulator';
import { JobEmulator } from '../emulators/job-emulator';
import { vertexMachines } from '../emulators/vertex-machines';
import { intelFiles, PRETRAINED } from '../helpers/intel';

const ROOT = path.resolve(import.meta.dirname, '../..');
const CLASSES = ['forest', 'street'];
const tmp = mkdtempSync(path.join(tmpdir(), 'scenelab-tune-'));

function scenelab(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'bin/scenelab.js'), ...args], { cwd: ROOT });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('scenelab cloud tune', () => {
  const data = path.join(tmp, 'data');
  let gcs: GcsEmulator;
  let jobs: JobEmulator;
  const common = (name: string): string[] => [
    'cloud', 'tune', '--data', data, '--arch', 'squeezenet1_1', '--weights', PRETRAINED, '--freeze', '--epochs', '1', '--batch-size', '8',
    '--project', 'scenelab-test', '--region', 'europe-west4', '--staging', 'gs://scenelab-staging/tune', '--name', name,
    '--search', 'lr=1e-4..1e-1:log,optimizer=adam|sgd',
  ];

  beforeAll(async () => {
    for (const { file, label } of intelFiles('train', 10, CLASSES)) {
      mkdirSync(path.join(data, CLASSES[label]!), { recursive: true });
      copyFileSync(file, path.join(data, CLASSES[label]!, path.basename(file)));
    }
    gcs = await GcsEmulator.start('scenelab-staging');
    jobs = await JobEmulator.start(vertexMachines(gcs));
  });
  afterAll(async () => {
    await jobs.stop();
    await gcs.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('--dry-run writes the HyperparameterTuningJob exactly as it would be sent', async () => {
    const dir = path.join(tmp, 'dry');
    const r = await scenelab([...common('dry-tune'), '--trials', '20', '--parallel', '4', '--metric', 'val_loss', '--dry-run', dir]);
    expect(r.code, r.stderr).toBe(0);
    const { parent, hyperparameterTuningJob: job } = JSON.parse(readFileSync(path.join(dir, 'job.json'), 'utf8'));
    expect(parent).toBe('projects/scenelab-test/locations/europe-west4');
    expect(job.studySpec).toEqual({
      metrics: [{ metricId: 'val_loss', goal: 'MINIMIZE' }],
      parameters: [
        { parameterId: 'lr', doubleValueSpec: { minValue: 1e-4, maxValue: 0.1 }, scaleType: 'UNIT_LOG_SCALE' },
        { parameterId: 'optimizer', categoricalValueSpec: { values: ['adam', 'sgd'] } },
      ],
      algorithm: 'ALGORITHM_UNSPECIFIED',
      measurementSelectionType: 'BEST_MEASUREMENT',
    });
    expect(job).toMatchObject({ displayName: 'dry-tune', maxTrialCount: 20, parallelTrialCount: 4, maxFailedTrialCount: 5 });
    const args = job.trialJobSpec.workerPoolSpecs[0].pythonPackageSpec.args as string[];
    expect(args).toContain('--hypertune-metric=val_loss');
    expect(args[0]).toBe('--data=/gcs/scenelab-staging/tune/dry-tune/data');
    expect(job.trialJobSpec.baseOutputDirectory).toEqual({ outputUriPrefix: 'gs://scenelab-staging/tune/dry-tune/output' });
  });

  it('runs the trials, reports each, and brings the best one back as a run', async () => {
    const out = path.join(tmp, 'best');
    const r = await scenelab([...common('tune-1'), '--trials', '3', '--out', out, '--vertex-api-endpoint', jobs.address, '--gcs-api-endpoint', gcs.endpoint, '--poll-seconds', '0.2', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const create = jobs.calls.find((c) => c.method === 'CreateHyperparameterTuningJob')!;
    expect((create.request.hyperparameterTuningJob as { maxTrialCount: number }).maxTrialCount).toBe(3);
    const lines = r.stderr.split('\n').filter((l) => /^trial \d+:/.test(l));
    expect(lines).toHaveLength(3);
    const summary = JSON.parse(r.stdout.trim());
    const values = lines.map((l) => Number(/val_accuracy ([\d.]+)/.exec(l)![1]));
    expect(summary.bestTrial.value).toBeCloseTo(Math.max(...values), 4);
    // The run that came back is the best trial's: its hyperparameters are the trial's.
    const hp = JSON.parse(readFileSync(path.join(out, 'hyperparameters.json'), 'utf8'));
    expect(hp.learningRate).toBeCloseTo(summary.bestTrial.params.lr, 10);
    expect(hp.optimizer).toBe(summary.bestTrial.params.optimizer);
    expect(JSON.parse(readFileSync(path.join(out, 'labels.json'), 'utf8'))).toEqual(CLASSES);
  });
});
