import { flushSync, mount, unmount } from 'svelte';
import { describe, expect, it } from 'vitest';
import ConfusionMatrix from './ConfusionMatrix.svelte';
import ProgressBar from './ProgressBar.svelte';

describe('ConfusionMatrix', () => {
  it('renders one button per non-empty cell that opens that cell', async () => {
    const opened: Array<[number, number]> = [];
    const target = document.createElement('div');
    document.body.append(target);
    const c = mount(ConfusionMatrix, {
      target,
      props: { classes: ['forest', 'sea'], confusion: [[3, 1], [0, 2]], onopen: (t: number, p: number) => opened.push([t, p]) },
    });
    flushSync();
    const buttons = [...target.querySelectorAll('button')];
    expect(buttons.map((b) => b.textContent?.trim())).toEqual(['3', '1', '2']);
    expect(buttons[1]!.getAttribute('aria-label')).toBe('1 forest images predicted as sea: show them');
    buttons[1]!.click();
    expect(opened).toEqual([[0, 1]]);
    await unmount(c);
  });
});

describe('ProgressBar', () => {
  it('shows done of total and an indeterminate bar before the total is known', async () => {
    const target = document.createElement('div');
    const c = mount(ProgressBar, { target, props: { label: 'Importing', done: 5, total: 20 } });
    flushSync();
    expect(target.textContent).toContain('5 / 20');
    expect(target.querySelector('progress')?.getAttribute('value')).toBe('5');
    await unmount(c);
    const d = mount(ProgressBar, { target, props: { label: 'Importing', done: 0, total: 0 } });
    flushSync();
    expect(target.querySelector('progress')?.hasAttribute('value')).toBe(false);
    await unmount(d);
  });
});
