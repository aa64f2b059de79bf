import { evaluate } from '../../model/evaluate';
import { backendFromOptions, initNodeBackend } from '../../node/backend';
import { UsageError } from '../errors';
import { parse } from '../args';
import { loadModel } from '../../node/model-store';
import { labelledSource, readLocalDataset } from '../../node/data';

const HELP = `scenelab eval — score a trained model on a labelled image folder

  --model RUN_DIR|BUNDLE  a run directory from "scenelab train" or a model bundle (.zip)
  --data DIR|FILE         Intel-layout folder or Vertex AI import file (test/validation rows are used when it has splits)
  --gs-root DIR           folder holding gs://bucket/object as DIR/bucket/object
  --backend B             wasm (default) | webgpu | cpu
  --json                  one JSON object on stdout: accuracy, n, classes, confusion, perClass, topK, macroF1, skipped`;

export async function evalCommand(argv: string[]): Promise<number> {
  const { values: v } = parse(argv, {
    model: { type: 'string' },
    data: { type: 'string' },
    'gs-root': { type: 'string' },
    json: { type: 'boolean' },
    backend: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (v.help) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  if (!v.model) throw new UsageError('--model is required (a run directory or bundle)');
  if (!v.data) throw new UsageError('--data is required (a labelled image folder or import file)');
  await initNodeBackend(backendFromOptions(v.backend));
  const model = await loadModel(v.model);
  try {
    const ds = await readLocalDataset(v.data, v['gs-root']);
    const hasTest = ds.records.some((r) => r.split === 'test');
    const records = ds.records.filter((r) => r.label !== null && (!hasTest || r.split === 'test'));
    const { source, problems } = labelledSource(ds, records, model.labels);
    if (source.size === 0) throw new UsageError(`--data ${v.data}: no labelled images of the model's classes (${model.labels.join(', ')})`);
    const report = await evaluate(model, source);
    const skipped = [...ds.problems, ...problems, ...report.skipped];
    if (v.json) {
      const { predictions: _, ...rest } = report;
      process.stdout.write(JSON.stringify({ ...rest, skipped }) + '\n');
    } else {
      const w = Math.max(...model.labels.map((l) => l.length), 8);
      const lines = [
        `accuracy ${report.accuracy.toFixed(4)} on ${report.n} images; top-${Math.min(3, report.classes.length)} ${report.topK[Math.min(3, report.classes.length)]!.toFixed(4)}; macro F1 ${report.macroF1.toFixed(4)}`,
        '',
        `${'class'.padEnd(w)}  precision  recall  f1      support`,
        ...report.perClass.map((c) => `${c.label.padEnd(w)}  ${c.precision.toFixed(4).padStart(9)}  ${c.recall.toFixed(4)}  ${c.f1.toFixed(4)}  ${String(c.support).padStart(7)}`),
        '',
        'confusion (rows: true class, columns: predicted)',
        `${''.padEnd(w)}  ${report.classes.map((c) => c.slice(0, 8).padStart(8)).join(' ')}`,
        ...report.confusion.map((row, i) => `${report.classes[i]!.padEnd(w)}  ${row.map((n) => String(n).padStart(8)).join(' ')}`),
      ];
      process.stdout.write(lines.join('\n') + '\n');
      for (const s of skipped) process.stderr.write(`skipped ${s.source}: ${s.reason}\n`);
    }
    return 0;
  } finally {
    model.dispose();
  }
}
