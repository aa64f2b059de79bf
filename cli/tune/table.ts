/**
 * The live table of `scenelab tune`: one line per trial — number, parameters, the validation
 * value of each epoch, state, value, best so far — redrawn as the trial runs on a terminal,
 * written once when it ends on a pipe; and the closing summary.
 */
import type { RunEvent } from '../../model/run/pipeline';
import { bestTrial, trialCounts, type Params, type Study, type Trial, type TuneEvent } from '../../model/tune';

const SHORT: Record<string, string> = { learningRate: 'lr', batchSize: 'batch', weightDecay: 'wd', optimizer: 'opt', useWeightDecay: '', hflip: 'flip' };

/** A parameter value in few characters: numbers to 3 significant digits. */
function show(value: Params[string]): string {
  if (typeof value !== 'number' || Number.isInteger(value)) return String(value);
  return String(Number(value.toPrecision(3)));
}

/** A trial's parameters as `lr=0.00123 batch=32 …` (the weight-decay switch shows through `wd`). */
export function formatParams(params: Params): string {
  const parts = Object.entries(params)
    .filter(([name]) => SHORT[name] !== '')
    .map(([name, value]) => `${SHORT[name] ?? name}=${show(value)}`);
  if (params.useWeightDecay === false) parts.push('wd=0');
  return parts.join(' ');
}

function clock(seconds: number): string {
  const s = Math.round(seconds);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

function ending(trial: Trial): string {
  const value = trial.value === null ? '' : ` ${trial.value.toFixed(4)}`;
  if (trial.state === 'pruned') return `pruned@${trial.intermediate.at(-1)?.step ?? 0}${value}`;
  if (trial.state === 'failed') return trial.failure?.reason === 'interrupted' ? 'interrupted' : `failed: ${trial.failure?.message ?? ''}`;
  return `${trial.state}${value}`;
}

/** One trial's line; `progress` is what a running trial is doing. */
export function trialLine(study: Study, trial: Trial, progress = ''): string {
  const values = trial.intermediate.map((v) => (v.value === null ? 'nan' : v.value.toFixed(3))).join(' ');
  const best = bestTrial(study);
  const seconds = ((trial.endedAt ?? Date.now()) - trial.startedAt) / 1000;
  const retry = trial.retryOf === null ? '' : ` (again: #${trial.retryOf})`;
  const state = trial.state === 'running' ? `running${progress ? ` ${progress}` : ''}` : ending(trial);
  const bestText = best ? `best ${best.value!.toFixed(4)} #${best.number}` : 'best -';
  return `#${trial.number}${retry} ${formatParams(trial.params)} | ${values || '-'} | ${state} | ${bestText} | ${clock(seconds)}`;
}

/**
 * Renders the search as it goes. On a terminal the running trial's line is redrawn with its
 * epochs and feature extraction; on a pipe each trial is one line written when it ends.
 */
export function createTuneTable(study: Study, stream: NodeJS.WritableStream, isTty: boolean, metric: string) {
  let running: Trial | null = null;
  let progress = '';
  const redraw = (): void => {
    if (isTty && running) stream.write(`\r\x1b[2K${trialLine(study, running, progress)}`);
  };
  stream.write(`trial params | ${metric} by epoch | state value | best so far | time\n`);
  return {
    onTuneEvent(e: TuneEvent): void {
      if (e.type === 'resumed') stream.write(`resuming: trial${e.interrupted.length > 1 ? 's' : ''} ${e.interrupted.map((n) => `#${n}`).join(', ')} did not finish and run${e.interrupted.length > 1 ? '' : 's'} again\n`);
      else if (e.type === 'trial-start') {
        running = study.trials[e.trial] ?? null;
        progress = '';
        redraw();
      } else if (e.type === 'trial-report') redraw();
      else if (e.type === 'trial-end') {
        const trial = study.trials[e.trial]!;
        stream.write(`${isTty ? '\r\x1b[2K' : ''}${trialLine(study, trial)}\n`);
        running = null;
      }
    },
    onRunEvent(_trial: number, e: RunEvent): void {
      if (!isTty) return;
      if (e.type === 'stage') progress = `(features ${e.done}/${e.total})`;
      else if (e.type === 'batch') progress = `(epoch ${e.epoch}, batch ${e.batch}/${e.batches})`;
      else return;
      redraw();
    },
  };
}

/** The closing lines: counts, the best trial and its parameters, and the time spent. */
export function summaryLines(study: Study, metric: string, sessionSeconds: number, trialsRun: number): string[] {
  const counts = trialCounts(study);
  const trialSeconds = study.trials.reduce((s, t) => s + ((t.endedAt ?? t.startedAt) - t.startedAt) / 1000, 0);
  const best = bestTrial(study);
  return [
    `${study.trials.length} trial${study.trials.length === 1 ? '' : 's'}: ${counts.complete} complete, ${counts.pruned} pruned, ${counts.failed} failed; ${trialsRun} run now in ${clock(sessionSeconds)} (all trials: ${clock(trialSeconds)})`,
    best ? `best: trial #${best.number}, ${metric} ${best.value!.toFixed(4)}: ${formatParams(best.params)}` : 'best: no complete trial yet',
  ];
}
