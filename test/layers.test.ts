// The shape of the code, checked: layers import downward only, and no source file grows past
// what one idea needs. Folders, lowest first: model/ (shared core), node/ (Node adapters),
// cli/ and server/ (both on node/), web/ (the app, on model/). test/ and bench/ sit on top.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..');
const SOURCE = /\.(ts|mts|mjs|js|svelte)$/;

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    if (name === 'node_modules' || name.startsWith('.')) return [];
    const p = path.join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : SOURCE.test(name) ? [p] : [];
  });
}

/** Layer of a repository path: its first folder, with tests and test support counted apart. */
function layerOf(file: string): string {
  const rel = path.relative(ROOT, file).split(path.sep);
  const isTest = /\.(test|spec)\.ts$/.test(file) || rel.includes('test') || rel.includes('e2e') || /test-support\.ts$/.test(file);
  return `${rel[0]}${isTest ? ':test' : ''}`;
}

/** Relative imports of a file, resolved to repository paths. */
function importsOf(file: string): string[] {
  const src = readFileSync(file, 'utf8');
  const specs = [...src.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) => m[1]!);
  return specs.map((s) => path.resolve(path.dirname(file), s));
}

/** What each layer may import (besides itself). */
const ALLOWED: Record<string, readonly string[]> = {
  model: [],
  node: ['model'],
  cli: ['model', 'node'],
  server: ['model', 'node'],
  web: ['model'],
  cloud: ['model', 'node'],
};

const files = ['model', 'node', 'cli', 'server', 'web', 'cloud'].flatMap((d) => {
  try {
    return walk(path.join(ROOT, d));
  } catch {
    return [];
  }
});

describe('layers', () => {
  it('found the source tree', () => {
    expect(files.length).toBeGreaterThan(100);
  });

  it('production code imports only downward', () => {
    const wrong: string[] = [];
    for (const f of files) {
      const layer = layerOf(f);
      if (layer.endsWith(':test')) continue;
      for (const target of importsOf(f)) {
        const to = path.relative(ROOT, target).split(path.sep)[0]!;
        if (to !== layer && !ALLOWED[layer]!.includes(to)) wrong.push(`${path.relative(ROOT, f)} → ${path.relative(ROOT, target)}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('web/, server/ and cli/ never reach into each other, tests included', () => {
    const apart: Record<string, readonly string[]> = { web: ['server', 'cli'], server: ['cli', 'web'], cli: ['server', 'web'] };
    const wrong: string[] = [];
    for (const f of files) {
      const layer = layerOf(f).replace(':test', '');
      for (const target of importsOf(f)) {
        const to = path.relative(ROOT, target).split(path.sep)[0]!;
        if (apart[layer]?.includes(to)) wrong.push(`${path.relative(ROOT, f)} → ${path.relative(ROOT, target)}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('no source file is over 500 lines (the pickle interpreter aside)', () => {
    const long = files
      .filter((f) => !f.endsWith(path.join('pth', 'pickle.ts')))
      .map((f) => ({ f: path.relative(ROOT, f), lines: readFileSync(f, 'utf8').split('\n').length }))
      .filter((x) => x.lines > 500);
    expect(long).toEqual([]);
  });
});
