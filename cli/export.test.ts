import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { unzipSync } from 'fflate';
import { beforeAll, describe, expect, it } from 'vitest';
import { intelFiles, PRETRAINED } from '../test/helpers/intel';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tmp = mkdtempSync(path.join(tmpdir(), 'scenelab-export-'));
const CLASSES = ['forest', 'sea', 'street'];
const data = path.join(tmp, 'data');
const test = path.join(tmp, 'test');
const run = path.join(tmp, 'run');
const out = (name: string): string => path.join(tmp, name);

function scenelab(...args: string[]) {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/scenelab.js'), ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, SCENELAB_DEBUG: '' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  for (const [dir, split, n] of [[data, 'train', 8], [test, 'test', 6]] as const) {
    for (const { file, label } of intelFiles(split, n, CLASSES)) {
      mkdirSync(path.join(dir, CLASSES[label]!), { recursive: true });
      copyFileSync(file, path.join(dir, CLASSES[label]!, path.basename(file)));
    }
  }
  const r = scenelab('train', '--data', data, '--arch', 'squeezenet1_1', '--weights', PRETRAINED, '--freeze', '--epochs', '2', '--batch-size', '8', '--out', run);
  expect(r.code, r.stderr).toBe(0);
});

describe('scenelab export: bad combinations are one-line errors that write nothing', () => {
  it.each([
    [['--prune', '70'], /say what to write/],
    [['--prune', '100', '--bundle', out('x.zip')], /--prune must be at least 0 and below 100 %/],
    [['--prune', 'lots', '--bundle', out('x.zip')], /--prune expects a sparsity such as 70, 70% or 0\.7, got "lots"/],
    [['--quantize', 'int4', '--bundle', out('x.zip')], /--quantize must be f16 or u8, got "int4"/],
    [['--quantize', 'u8', '--pth', out('x.pth')], /--quantize applies to the tfjs bundle: add --bundle FILE/],
    [['--structured', '--bundle', out('x.zip')], /--prune-scope and --structured go with --prune S/],
    [['--prune', '50', '--prune-scope', 'model', '--bundle', out('x.zip')], /--prune-scope must be global or layer, got "model"/],
    [['--finetune-data', data, '--bundle', out('x.zip')], /--finetune-data fine-tunes a pruned model: add --prune S/],
    [['--prune', '50', '--finetune-epochs', '2', '--bundle', out('x.zip')], /--finetune-epochs needs --finetune-data DIR/],
    [['--sweep', '0,50', '--bundle', out('x.zip')], /--sweep measures only/],
    [['--sweep', '0,50'], /--sweep needs labelled images to score/],
    [['--sweep', '0,150', '--eval-data', test], /--sweep must be at least 0 and below 100 %/],
    [['--prune', '50', '--bundle', out('x.zip'), '--eval-data', path.join(tmp, 'nowhere')], /--data .*nowhere: no such file or folder/],
  ])('%j', (args, message) => {
    const r = scenelab('export', '--model', run, ...args);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(existsSync(out('x.zip')) || existsSync(out('x.pth'))).toBe(false);
  });
});

describe('scenelab export end to end', () => {
  it('prunes 60 % per layer into every format and quantizes the bundle to uint8, measuring before and after', () => {
    const files = { bundle: out('p60.zip'), pth: out('p60.pth'), onnx: out('p60.onnx'), mar: out('p60.mar'), torchscript: out('p60.pt') };
    const r = scenelab('export', '--model', run, '--prune', '60%', '--prune-scope', 'layer', '--quantize', 'u8', '--eval-data', test, '--json', ...Object.entries(files).flatMap(([k, f]) => [`--${k}`, f]));
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as {
      before: { bundleBytes: number; weightsBytes: number; accuracy: number; n: number };
      after: { bundleBytes: number; weightsBytes: number; accuracy: number; n: number };
      sparsity: { layers: Array<{ name: string; zeros: number; total: number }>; sparsity: number };
      compression: { quantize: string; prune: { sparsity: number; scope: string } };
    };
    expect(j.before.n).toBe(18);
    expect(j.after.n).toBe(18);
    // 18 test images of 6 classes from a 2-epoch head: pruning 60 % of every layer without a
    // fine-tune and storing uint8 keeps it well above chance (1/6) and near where it was.
    expect(j.after.accuracy).toBeGreaterThan(2 / 6);
    expect(j.before.accuracy - j.after.accuracy).toBeLessThanOrEqual(0.2);
    expect(j.after.weightsBytes / j.before.weightsBytes).toBeLessThan(0.26);
    expect(j.after.bundleBytes).toBeLessThan(0.2 * j.before.bundleBytes);
    expect(j.compression).toMatchObject({ quantize: 'uint8', prune: { sparsity: 0.6, scope: 'layer' } });
    for (const l of j.sparsity.layers) expect(l.zeros, l.name).toBe(Math.round(0.6 * l.total));
    for (const f of Object.values(files)) expect(existsSync(f), f).toBe(true);
    expect(Object.keys(unzipSync(readFileSync(files.bundle)))).toContain('compression.json');

    // The bundle reads back everywhere models are read; the .pth has the zeros for torch.
    const e = scenelab('eval', '--model', files.bundle, '--data', test, '--json');
    expect(e.code, e.stderr).toBe(0);
    expect(JSON.parse(e.stdout).accuracy).toBe(j.after.accuracy);
    const zeros = spawnSync('/usr/bin/python3', ['-c', `import json, torch; sd = torch.load(${JSON.stringify(files.pth)}); print(json.dumps({k: int((v == 0).sum()) for k, v in sd.items()}))`], { encoding: 'utf8' });
    const counted = JSON.parse(zeros.stdout) as Record<string, number>;
    for (const l of j.sparsity.layers) expect(counted[l.name], l.name).toBe(l.zeros);
  });

  it('sweeps sparsity with a fine-tune after each pruning, as a table and as JSON', () => {
    const args = ['export', '--model', run, '--sweep', '0,50', '--finetune-data', data, '--finetune-epochs', '1', '--eval-data', test];
    const r = scenelab(...args, '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/fine-tune epoch 1\/1/);
    const j = JSON.parse(r.stdout) as { before: { bundleBytes: number }; rows: Array<{ sparsity: number; reached: number; bundleBytes: number; accuracy: number; n: number }> };
    expect(j.rows.map((row) => row.sparsity)).toEqual([0, 0.5]);
    expect(j.rows[1]!.reached).toBeCloseTo(0.5, 6);
    expect(j.rows[1]!.bundleBytes).toBeLessThan(j.rows[0]!.bundleBytes);
    for (const row of j.rows) expect(row.n).toBe(18);
    const table = scenelab(...args.slice(0, 5), '--eval-data', test);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^sparsity\s+reached\s+bundle bytes\s+vs original\s+accuracy\n/);
    expect(table.stdout).toMatch(/\n50\.0 %\s+50\.0 %\s+[\d,]+\s+0\.\d{3}\s+\d\.\d{4}\n/);
  });
});
