// The test command's first step: the Debian packages the suite needs are there, or each
// missing one is named with the command that installs it, before any test runs.
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..');
const tmp = mkdtempSync(path.join(tmpdir(), 'scenelab-syspkg-'));
chmodSync(tmp, 0o755);
// A copy the unprivileged user can read wherever the clone lives.
const SCRIPT = path.join(tmp, 'ensure-system-packages.sh');
copyFileSync(path.join(ROOT, 'scripts/ensure-system-packages.sh'), SCRIPT);
chmodSync(SCRIPT, 0o755);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function list(lines: string): string {
  const file = path.join(tmp, `list-${Math.random().toString(36).slice(2)}.txt`);
  writeFileSync(file, lines);
  chmodSync(file, 0o644);
  return file;
}

/** Runs the script as an unprivileged user, as a developer without root would. */
function runUnprivileged(listFile: string) {
  return spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'bash', SCRIPT], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', SYSTEM_PACKAGES_LIST: listFile },
  });
}

describe('scripts/ensure-system-packages.sh', () => {
  it('the project list names the browser, the Vulkan loader and PyTorch', () => {
    const names = readFileSync(path.join(ROOT, 'scripts/system-packages.txt'), 'utf8')
      .split('\n')
      .filter((l) => l.trim() && !l.startsWith('#'))
      .map((l) => l.split(/\s+/)[0]);
    expect(names).toEqual(expect.arrayContaining(['chromium', 'libvulkan1', 'python3-torch', 'python3-torchvision']));
  });

  it('passes quietly when everything is installed', () => {
    const r = runUnprivileged(list('# comment\nbash  the shell\ncoreutils  basic tools\n'));
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('without root, names each missing package and the command that installs them, and fails', () => {
    const r = runUnprivileged(list('bash  the shell\nscenelab-no-such-package  a reason\nscenelab-another-missing  another reason\n'));
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([
      'missing system package: scenelab-no-such-package (a reason)',
      'missing system package: scenelab-another-missing (another reason)',
      'install them with: sudo apt-get update && sudo apt-get install -y --no-install-recommends scenelab-no-such-package scenelab-another-missing',
    ]);
  });
});
