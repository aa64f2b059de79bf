/**
 * Vertex AI's training machines, locally: what a CustomJob's worker pools would run, run here
 * with Debian's PyTorch. Cloud Storage FUSE is a folder holding the GCS emulator's objects
 * (`/gcs/BUCKET/…` in the job's arguments becomes `<root>/gcs/BUCKET/…`); the package is
 * unpacked as pip would install it; replicas get Vertex AI's `CLUSTER_SPEC`; what the trainer
 * writes under the bucket goes back into the emulator when the job ends.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { GcsEmulator } from './gcs-emulator';
import type { JobOutcome, JobRunner } from './job-emulator';

const PYTHON = '/usr/bin/python3';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

function listFiles(dir: string, rel = ''): string[] {
  return readdirSync(path.join(dir, rel)).flatMap((n) => {
    const r = rel ? `${rel}/${n}` : n;
    return statSync(path.join(dir, r)).isDirectory() ? listFiles(dir, r) : [r];
  });
}

interface PoolSpec {
  replicaCount?: string;
  pythonPackageSpec?: { packageUris?: string[]; pythonModule?: string; args?: string[] };
}

/** Runs each replica of each worker pool as a process; the job's outcome is the chief's and the workers' exit codes. */
export function vertexMachines(gcs: GcsEmulator, options: { log?: (line: string) => void; env?: Record<string, string> } = {}): JobRunner {
  return async (job, signal, trialEnv = {}): Promise<JobOutcome> => {
    const root = mkdtempSync(path.join(tmpdir(), 'scenelab-vertex-'));
    const fuse = path.join(root, 'gcs');
    const bucketDir = path.join(fuse, gcs.bucket);
    for (const [name, o] of gcs.objects) {
      mkdirSync(path.dirname(path.join(bucketDir, name)), { recursive: true });
      writeFileSync(path.join(bucketDir, name), o.bytes);
    }
    const before = new Set(listFiles(bucketDir));
    const spec = job.jobSpec as { workerPoolSpecs: PoolSpec[]; baseOutputDirectory?: { outputUriPrefix?: string } };
    const pools = spec.workerPoolSpecs;
    const first = pools[0]!.pythonPackageSpec!;
    const toLocal = (s: string): string => s.replaceAll('/gcs/', `${fuse}/`).replace(/^gs:\/\//, `${fuse}/`);

    // pip install: the sdist unpacked; its top folder goes on PYTHONPATH.
    const pkg = path.join(root, 'site');
    mkdirSync(pkg);
    const archive = toLocal(first.packageUris![0]!);
    const tar = spawnSync('tar', ['-xzf', archive, '-C', pkg], { encoding: 'utf8' });
    if (tar.status !== 0) return { ok: false, message: `pip could not install ${first.packageUris![0]}: ${tar.stderr}` };
    const site = path.join(pkg, readdirSync(pkg)[0]!);

    const hosts = await Promise.all(pools.map(async (p) => Promise.all(Array.from({ length: Number(p.replicaCount ?? '1') }, async () => `127.0.0.1:${await freePort()}`))));
    const cluster = Object.fromEntries(hosts.map((h, i) => [`workerpool${i}`, h]));
    const modelDir = toLocal(`${spec.baseOutputDirectory?.outputUriPrefix ?? ''}/model`);
    const runs = pools.flatMap((pool, p) =>
      hosts[p]!.map((_, index) => {
        const env = {
          ...process.env,
          ...options.env,
          ...trialEnv,
          PYTHONPATH: site,
          AIP_MODEL_DIR: modelDir,
          CLOUD_ML_JOB_ID: String(job.name ?? '').split('/').pop() ?? '',
          CLUSTER_SPEC: JSON.stringify({ cluster, environment: 'cloud', task: { type: `workerpool${p}`, index } }),
        };
        const args = (pool.pythonPackageSpec?.args ?? []).map(toLocal);
        const child = spawn(PYTHON, ['-m', pool.pythonPackageSpec?.pythonModule ?? 'trainer.task', ...args], { cwd: root, env, signal });
        let tail = '';
        const keep = (chunk: Buffer): void => {
          tail = (tail + chunk.toString()).slice(-4000);
          for (const line of chunk.toString().split('\n')) if (line.trim()) options.log?.(`workerpool${p}-${index}: ${line}`);
        };
        child.stdout.on('data', keep);
        child.stderr.on('data', keep);
        return new Promise<{ replica: string; code: number | null; tail: string }>((resolve) => {
          child.on('close', (code) => resolve({ replica: `workerpool${p}-${index}`, code, tail }));
          child.on('error', () => resolve({ replica: `workerpool${p}-${index}`, code: -1, tail }));
        });
      }),
    );
    // What the trainer writes through FUSE lands in the bucket as it writes it (FUSE uploads a file when it is closed).
    const synced = new Map<string, number>();
    const sync = (): void => {
      for (const f of listFiles(bucketDir)) {
        // The trainer writes a run into a temporary folder and renames it when done, so a file
        // listed a moment ago may be gone (or half there): take it on the next pass.
        let stamp: number;
        let bytes: Buffer;
        try {
          const { mtimeMs, size } = statSync(path.join(bucketDir, f));
          stamp = mtimeMs + size;
          if (before.has(f) || synced.get(f) === stamp) continue;
          bytes = readFileSync(path.join(bucketDir, f));
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
          throw e;
        }
        synced.set(f, stamp);
        gcs.put(f, bytes, f.endsWith('.json') ? 'application/json' : 'application/octet-stream');
      }
    };
    const syncing = setInterval(sync, 100);
    const results = await Promise.all(runs).finally(() => clearInterval(syncing));
    sync();
    const failed = results.find((r) => r.code !== 0);
    if (!failed) return { ok: true };
    const lastLines = failed.tail.trim().split('\n').slice(-5).join('\n');
    return { ok: false, message: `The replica ${failed.replica} exited with a non-zero status of ${failed.code ?? 'signal'}. Last lines:\n${lastLines}` };
  };
}
