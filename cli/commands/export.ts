import { writeFile } from 'node:fs/promises';
import { importModelFiles, type ModelFiles } from '../../model/artifacts';
import { compressModel, type CompressOptions, type PruneOptions, type WeightQuantization } from '../../model/compress';
import type { ImageSource } from '../../model/data/source';
import { EXPORT_FORMATS, exportAs, type ExportFormat } from '../../model/export';
import { backendFromOptions, initNodeBackend } from '../../node/backend';
import { readModelFiles } from '../../node/model-store';
import { numberOption, parse } from '../args';
import { UsageError } from '../errors';
import { describeSparsity, evalSource, finetuneHooks, finetuneSources, finetuneValidation, measure, sweep, sweepTable, type Measurement } from './export-measure';

const HELP = `scenelab export — write a trained model in other formats, optionally pruned and quantized

  --model RUN_DIR|BUNDLE
  --pth FILE            a torchvision state_dict (torch.load + model.load_state_dict in PyTorch)
  --onnx FILE           ONNX (opset 14), input NCHW preprocessed images, output logits
  --mar FILE            a TorchServe model archive (handler does SceneLab's preprocessing)
  --torchscript FILE    a TorchScript archive for torch.jit.load
  --bundle FILE         a model bundle (.zip) for the app, the server or Vertex AI
  --quantize f16|u8     store the bundle's weights as float16 (1/2 the bytes) or uint8 (1/4); the other formats stay float32
  --prune S             zero S of the weights by magnitude, in every format: 70 or 70% (percent), or 0.7 (a fraction)
  --prune-scope global|layer   rank weights over all layers (global, default) or prune S of each layer
  --structured          prune whole output filters by L1 norm (the logits layer is kept whole)
  --finetune-data DIR   after pruning, fine-tune (the run's own recipe, pruned weights held at zero) on this labelled folder
  --finetune-epochs E   epochs of that fine-tune (2)
  --eval-data DIR       score before and after on this labelled folder (its test split when it has one); without it,
                        the fine-tune's held-out validation images are used when fine-tuning
  --sweep 0,50,70,90    measure accuracy and bundle size at each sparsity (percent) instead of writing files
  --backend B           wasm (default) | webgpu | cpu
  --json                print the measurements as one JSON object`;

const QUANTIZE: Record<string, WeightQuantization> = { f16: 'float16', float16: 'float16', u8: 'uint8', uint8: 'uint8' };
const FORMATS = Object.keys(EXPORT_FORMATS) as ExportFormat[];

/** A sparsity from the command line: percent (70, 70%) or a fraction below 1 (0.7). */
export function parseSparsity(flag: string, text: string): number {
  const percent = text.trim().endsWith('%');
  const n = Number(text.trim().replace(/%$/, ''));
  if (text.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${flag} expects a sparsity such as 70, 70% or 0.7, got "${text}"`);
  const s = percent || n >= 1 ? n / 100 : n;
  if (!(s >= 0 && s < 1)) throw new UsageError(`--${flag} must be at least 0 and below 100 %, got "${text}"`);
  return s;
}

export async function exportCommand(argv: string[]): Promise<number> {
  const { values: v } = parse(argv, {
    model: { type: 'string' },
    ...Object.fromEntries(FORMATS.map((f) => [f, { type: 'string' as const }])),
    quantize: { type: 'string' },
    prune: { type: 'string' },
    'prune-scope': { type: 'string' },
    structured: { type: 'boolean' },
    'finetune-data': { type: 'string' },
    'finetune-epochs': { type: 'string' },
    'eval-data': { type: 'string' },
    sweep: { type: 'string' },
    backend: { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  }) as { values: Record<string, string | boolean | undefined> };
  const str = (k: string): string | undefined => (typeof v[k] === 'string' ? (v[k] as string) : undefined);
  if (v.help) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  const model = str('model');
  if (!model) throw new UsageError('--model is required');
  const outputs = FORMATS.filter((f) => str(f));
  const quantize = str('quantize') === undefined ? null : QUANTIZE[str('quantize')!];
  if (quantize === undefined) throw new UsageError(`--quantize must be f16 or u8, got "${str('quantize')}"`);
  const sparsities = str('sweep')?.split(',').map((s) => parseSparsity('sweep', s));
  const sparsity = str('prune') === undefined ? null : parseSparsity('prune', str('prune')!);
  const scope = str('prune-scope') ?? 'global';
  if (scope !== 'global' && scope !== 'layer') throw new UsageError(`--prune-scope must be global or layer, got "${scope}"`);
  const pruning = sparsity !== null || sparsities !== undefined;
  if (!pruning && (str('prune-scope') || v.structured)) throw new UsageError('--prune-scope and --structured go with --prune S (or --sweep)');
  if (!pruning && str('finetune-data')) throw new UsageError('--finetune-data fine-tunes a pruned model: add --prune S');
  if (str('finetune-epochs') && !str('finetune-data')) throw new UsageError('--finetune-epochs needs --finetune-data DIR');
  if (sparsities && (sparsity !== null || outputs.length > 0)) throw new UsageError('--sweep measures only: use it without --prune and without output files');
  if (sparsities && !str('eval-data') && !str('finetune-data')) throw new UsageError('--sweep needs labelled images to score: --eval-data DIR (or --finetune-data DIR)');
  if (quantize && outputs.length > 0 && !outputs.includes('bundle')) throw new UsageError('--quantize applies to the tfjs bundle: add --bundle FILE (the other formats are float32)');
  if (!sparsities && outputs.length === 0 && !str('eval-data')) throw new UsageError('say what to write: --pth, --onnx, --mar, --torchscript and/or --bundle FILE (or --eval-data DIR to measure only)');
  const epochs = numberOption('finetune-epochs', str('finetune-epochs'), 2, true);
  if (epochs < 1) throw new UsageError(`--finetune-epochs must be at least 1, got ${epochs}`);

  const files = await readModelFiles(model);
  await initNodeBackend(backendFromOptions(str('backend')));
  const log = (s: string): void => void process.stderr.write(s + '\n');
  const original = importModelFiles(files);
  try {
    const finetune = str('finetune-data') ? { epochs, ...(await finetuneSources(str('finetune-data')!, original.labels)) } : null;
    const source: ImageSource | null = str('eval-data') ? await evalSource(str('eval-data')!, original.labels, 'eval-data') : finetune ? finetuneValidation(original, files, finetune) : null;
    const prune: Omit<PruneOptions, 'sparsity'> = { scope, structured: Boolean(v.structured) };
    const before = await measure(original, files, source);
    if (sparsities) {
      const rows = await sweep(files, sparsities, { prune, quantize, finetune }, source, log);
      if (v.json) process.stdout.write(JSON.stringify({ before, prune, quantize, finetuneEpochs: finetune ? epochs : 0, rows }) + '\n');
      else process.stdout.write(`${sweepTable(rows, before)}\n${source ? `accuracy on ${before.n} images` : ''}\n`);
      return 0;
    }
    const options: CompressOptions = { prune: sparsity === null ? null : { sparsity, ...prune }, quantize, finetune };
    const compressed = options.prune || quantize ? await compressModel(files, options, finetuneHooks(log)) : null;
    try {
      const target = compressed?.model ?? original;
      const outFiles: ModelFiles = compressed?.files ?? files;
      const after = compressed ? await measure(target, outFiles, source) : null;
      for (const format of outputs) await writeFile(str(format)!, await exportAs(format, target, outFiles));
      report({ before, after, compressed, outputs: outputs.map((f) => str(f)!), json: Boolean(v.json) });
    } finally {
      compressed?.model.dispose();
    }
    return 0;
  } finally {
    original.dispose();
  }
}

function report(r: { before: Measurement; after: Measurement | null; compressed: Awaited<ReturnType<typeof compressModel>> | null; outputs: string[]; json: boolean }): void {
  const { before, after, compressed } = r;
  if (r.json) {
    process.stdout.write(JSON.stringify({ before, after, compression: compressed?.record ?? null, sparsity: compressed?.sparsity ?? null, wrote: r.outputs }) + '\n');
    return;
  }
  const acc = (m: Measurement): string => (m.accuracy === null ? '—' : m.accuracy.toFixed(4));
  const lines: string[] = [];
  const s = compressed?.sparsity;
  if (s) {
    lines.push(`sparsity: ${describeSparsity(s)}`);
    for (const l of s.layers) lines.push(`  ${l.name.padEnd(32)} ${(100 * l.sparsity).toFixed(1).padStart(5)} %  (${l.zeros}/${l.total})`);
  }
  if (compressed?.record.quantize) lines.push(`quantized: ${compressed.record.quantize} weights in the bundle`);
  lines.push(`${''.padEnd(8)} ${'bundle bytes'.padStart(13)} ${'weights.bin'.padStart(12)} ${'accuracy'.padStart(9)}`);
  for (const [name, m] of [['before', before], ['after', after]] as const) {
    if (m) lines.push(`${name.padEnd(8)} ${m.bundleBytes.toLocaleString('en').padStart(13)} ${m.weightsBytes.toLocaleString('en').padStart(12)} ${acc(m).padStart(9)}`);
  }
  if (before.accuracy !== null) lines.push(`accuracy on ${before.n} images`);
  if (r.outputs.length) lines.push(`wrote ${r.outputs.join(', ')}`);
  process.stdout.write(lines.join('\n') + '\n');
}
