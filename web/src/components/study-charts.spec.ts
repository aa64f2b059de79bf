import { flushSync, mount, unmount, type Component } from 'svelte';
import { describe, expect, it } from 'vitest';
import { createStudy, float, type Study, type Trial } from '../../../model/tune';
import HistoryChart from './HistoryChart.svelte';
import ImportanceBars from './ImportanceBars.svelte';
import IntermediateChart from './IntermediateChart.svelte';
import TrialTable from './TrialTable.svelte';

/** A study of four trials: three complete over three epochs, one pruned after the first. */
function study(): Study {
  const s = createStudy({ direction: 'maximize', objective: 'valAccuracy', space: { learningRate: float(1e-4, 1e-1, { log: true }) }, now: 0 });
  const trial = (number: number, state: Trial['state'], values: number[], lr: number): Trial => ({
    number,
    params: { learningRate: lr },
    state,
    intermediate: values.map((value, i) => ({ step: i + 1, value })),
    value: values.at(-1) ?? null,
    startedAt: 0,
    endedAt: 1,
    failure: null,
    retryOf: null,
    rungs: [],
  });
  s.trials = [trial(0, 'complete', [0.4, 0.5, 0.6], 1e-3), trial(1, 'complete', [0.5, 0.7, 0.8], 1e-2), trial(2, 'pruned', [0.1], 1e-1), trial(3, 'complete', [0.3, 0.4, 0.5], 1e-4)];
  return s;
}

function render<P extends Record<string, unknown>>(component: Component<P>, props: P): { target: HTMLElement; done: () => Promise<void> } {
  const target = document.createElement('div');
  document.body.append(target);
  const c = mount(component, { target, props });
  flushSync();
  return { target, done: async () => unmount(c) };
}

describe('study views', () => {
  it('draws a pruned trial cut short: a dashed one-epoch curve ending in a cross', async () => {
    const { target, done } = render(IntermediateChart, { study: study(), label: 'validation accuracy', epochs: 3 });
    const pruned = target.querySelector('g[data-state="pruned"]')!;
    expect(pruned.querySelector('path')).not.toBeNull();
    expect(pruned.querySelector('polyline')).toBeNull(); // one point: nothing to join
    const complete = [...target.querySelectorAll('g[data-state="complete"] polyline')];
    expect(complete).toHaveLength(3);
    expect(complete.every((p) => p.getAttribute('points')!.split(' ').length === 3 && !p.hasAttribute('stroke-dasharray'))).toBe(true);
    expect(target.querySelector('svg')!.getAttribute('aria-label')).toBe('validation accuracy per epoch for 4 trial(s), 1 pruned');
    await done();
  });

  it('plots every trial with the best value so far', async () => {
    const { target, done } = render(HistoryChart, { study: study(), label: 'validation accuracy' });
    expect(target.querySelectorAll('circle[data-state="complete"]')).toHaveLength(3);
    expect(target.querySelectorAll('circle[data-state="pruned"]')).toHaveLength(1);
    expect(target.querySelector('svg')!.getAttribute('aria-label')).toContain('best so far 0.800');
    await done();
  });

  it('shows importance bars from three complete trials on, and says why not before', async () => {
    const few = study();
    few.trials = few.trials.slice(0, 2);
    const a = render(ImportanceBars, { study: few });
    expect(a.target.textContent).toContain('Needs at least 3 complete trials (2 so far)');
    await a.done();
    const b = render(ImportanceBars, { study: study() });
    expect([...b.target.querySelectorAll('li .name')].map((n) => n.textContent)).toEqual(['learningRate']);
    await b.done();
  });

  it('lists trials newest first with their state, value, epochs and the best marked', async () => {
    const { target, done } = render(TrialTable, { study: study(), live: null, bestTrial: 1, epochsOf: () => 3 });
    const rows = [...target.querySelectorAll('tbody tr')].map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent!.trim()));
    expect(rows.map((r) => r[0])).toEqual(['3', '2', '1', '0']);
    expect(rows[1]!.slice(1, 4)).toEqual(['pruned', '10.0%', '1/3']);
    expect(rows[2]![1]).toBe('complete ★ best');
    expect(rows[3]![4]).toBe('learningRate 1.00e-3');
    await done();
  });
});
