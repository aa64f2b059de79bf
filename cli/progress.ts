import type { TrainEvent } from '../model/train';

function clock(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const m = Math.floor(s / 60);
  return `${m}:${String(s % 60).padStart(2, '0')}`;
}

function bar(fraction: number, width = 24): string {
  const filled = Math.round(Math.max(0, Math.min(1, fraction)) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}

/**
 * Renders training events: a redrawn progress bar on a terminal, and on a pipe or file plain
 * lines at each epoch (and every tenth of a stage) so logs stay readable.
 */
export function createTrainProgress(stream: NodeJS.WriteStream | NodeJS.WritableStream, isTty: boolean): (e: TrainEvent) => void {
  let lastStageTenth = -1;
  const line = (s: string): void => {
    if (isTty) (stream as NodeJS.WriteStream).write(`\r\x1b[2K${s}`);
  };
  return (e) => {
    switch (e.type) {
      case 'stage': {
        const label = 'backbone features';
        if (isTty) line(`${label} ${bar(e.done / e.total)} ${e.done}/${e.total}`);
        else {
          const tenth = Math.floor((10 * e.done) / e.total);
          if (tenth !== lastStageTenth) stream.write(`${label}: ${e.done}/${e.total}\n`);
          lastStageTenth = tenth;
        }
        if (isTty && e.done === e.total) stream.write('\n');
        break;
      }
      case 'batch':
        line(
          `epoch ${e.epoch} ${bar(e.batch / e.batches)} ${e.batch}/${e.batches} loss ${e.loss.toFixed(4)} acc ${e.accuracy.toFixed(3)} ${e.imagesPerSecond.toFixed(0)} img/s ETA ${clock(e.etaSeconds)}`,
        );
        break;
      case 'epoch': {
        const val = e.valLoss === null ? '' : ` val_loss ${e.valLoss.toFixed(4)} val_acc ${e.valAccuracy!.toFixed(4)}`;
        const text = `epoch ${e.epoch}/${e.epochs} loss ${e.trainLoss.toFixed(4)} acc ${e.trainAccuracy.toFixed(4)}${val} (${e.seconds.toFixed(1)}s, ETA ${clock(e.etaSeconds)})`;
        if (isTty) line(text + '\n');
        else stream.write(text + '\n');
        break;
      }
      case 'skipped':
        if (isTty) stream.write('\n');
        stream.write(`skipped ${e.file}: ${e.reason}\n`);
        break;
      case 'early-stop':
        stream.write(`early stopping after epoch ${e.epoch}: best validation loss at epoch ${e.bestEpoch}\n`);
        break;
      case 'threads':
        if (isTty) line('');
        stream.write(`threads: ${e.threads} (${e.threads - 1} replica${e.threads === 2 ? '' : 's'} of the model on worker threads)\n`);
        break;
      default: {
        const never: never = e;
        throw new Error(`unhandled event ${JSON.stringify(never)}`);
      }
    }
  };
}
