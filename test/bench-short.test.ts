// The benchmark harness in its short form, so it cannot rot: both contenders run, and the
// table, the JSON and the chart come out. It asserts no speed (this machine is shared).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..');
const out = mkdtempSync(path.join(tmpdir(), 'scenelab-bench-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('npm run bench -- --short', () => {
  it('runs SceneLab (Node and Chromium), PyTorch and ONNX Runtime side by side, and both head-only trainers end to end, and writes the table, JSON and SVG', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'bench/suite.ts', '--short', '--out', out], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/\| 1 \| train images\/s \| [\d.]+ \| [\d.]+ \| [\d.]+x \|/);
    expect(r.stdout).toMatch(/\| 1 \| batch-1 latency ms \|/);
    const files = readdirSync(out);
    const json = JSON.parse(readFileSync(path.join(out, files.find((f) => f.endsWith('.json'))!), 'utf8'));
    const row = json.rows[0];
    for (const who of ['scenelab', 'pytorch']) {
      for (const k of ['trainImagesPerSecond', 'latencyMs', 'inferImagesPerSecond', 'peakRssMiB']) expect(row[who][k], `${who}.${k}`).toBeGreaterThan(0);
    }
    for (const k of ['latencyMs', 'inferImagesPerSecond', 'peakRssMiB']) expect(row.onnxruntime[k], `onnxruntime.${k}`).toBeGreaterThan(0);
    // Chromium: wasm with SIMD and threads in a cross-origin isolated page, memory measured.
    for (const k of ['trainImagesPerSecond', 'latencyMs', 'inferImagesPerSecond', 'peakMemoryMiB']) expect(row.chromium[k], `chromium.${k}`).toBeGreaterThan(0);
    expect(row.chromium.version).toMatch(/wasm\+simd\+threads/);
    expect(r.stdout).toMatch(/\| 1 \(1\) \| train images\/s \| [\d.]+ \| [\d.]+ \| [\d.]+x \| [\d.]+x \|/);
    expect(r.stdout).toMatch(/\| 1 \(ORT 1\) \| inference images\/s \| [\d.]+ \| [\d.]+ \|/);
    // Head-only end to end: both trainers ran from JPEGs to a model that scenelab eval scored.
    expect(json.headOnly.map((h: { contender: string }) => h.contender)).toEqual(['scenelab-node', 'pytorch']);
    for (const h of json.headOnly) {
      expect(h.seconds).toBeGreaterThan(0);
      expect(h.testAccuracy).toBeGreaterThanOrEqual(0);
      expect(h.testAccuracy).toBeLessThanOrEqual(1);
    }
    expect(json.forwardMacsPerImage).toBeGreaterThan(1e6);
    expect(readFileSync(path.join(out, files.find((f) => f.endsWith('.svg'))!), 'utf8')).toMatch(/^<svg[\s\S]*x<\/text>/);
    // Six processes and a browser, two of them training from JPEGs: minutes on a busy two-core machine.
  }, 600_000);
});
