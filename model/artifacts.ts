import { strFromU8, strToU8, unzipSync, zipSync } from 'fflate';
import { decodeWeight, encodeWeight, quantizationProblem, storedBytes, type QuantizationSpec, type WeightQuantization } from './compress/quantize';
import { trainingCurvesSvg } from './curves';
import type { EvalReport } from './evaluate';
import { ClassifierModel, isArchName, type NamedWeight } from './model';
import { validatePreprocessSpec, type PreprocessSpec } from './preprocess';
import { readPth } from './pth';
import { sizeOf } from './tensor-data';
import type { EpochRecord, TrainOptions } from './train';

/** `model.json`: what to build, how to feed it, and where its weights are (tfjs weights-manifest layout). */
export interface ModelJson {
  format: 'scenelab-classifier';
  formatVersion: 1;
  arch: string;
  numClasses: number;
  labels: string[];
  preprocessing: PreprocessSpec;
  /**
   * Parameters in TensorFlow.js layout under torchvision key names, float32 little-endian, or
   * stored smaller as an entry's `quantization` says (tfjs's own field: float16, or uint8 with
   * scale and min). `weights.bin` may end in up to 3 bytes of padding.
   */
  weightsManifest: Array<{ paths: string[]; weights: WeightEntry[] }>;
}

/** One tensor of the weights manifest. */
export interface WeightEntry {
  name: string;
  shape: number[];
  dtype: 'float32';
  quantization?: QuantizationSpec;
}

/** How the weights of an exported model are stored; float32 when not given. */
export interface ExportOptions {
  /** float16 halves every floating tensor; uint8 stores the weights of convolutions and linear layers in one byte each (biases and BatchNorm stay float32). */
  quantize?: WeightQuantization | null;
}

/** What a training run adds beside the model. */
export interface RunExtras {
  hyperparameters?: Partial<TrainOptions> & Record<string, unknown>;
  metrics?: Omit<EvalReport, 'predictions'> | Record<string, unknown>;
  history?: EpochRecord[];
}

/** Files of a model directory or bundle, by relative name. */
export type ModelFiles = Map<string, Uint8Array>;

/** A model directory or bundle that cannot be loaded; the message says which file and why. */
export class ModelFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelFormatError';
  }
}

const json = (v: unknown): Uint8Array => strToU8(JSON.stringify(v, null, 2) + '\n');

/**
 * The files of a run directory / model bundle: `model.json` + `weights.bin` (the tfjs model),
 * `labels.json`, `preprocessing.json`, and when given `hyperparameters.json`, `metrics.json`,
 * `history.json` and `curves.svg`.
 */
export async function exportModelFiles(model: ClassifierModel, extras: RunExtras = {}, options: ExportOptions = {}): Promise<ModelFiles> {
  const weights = await model.getWeights();
  const kinds = new Map(model.specs.map((s) => [s.name, s.kind]));
  const entries: WeightEntry[] = [];
  const chunks: Uint8Array[] = [];
  for (const w of weights) {
    const kind = kinds.get(w.name);
    // Counters stay exact; uint8 is for weight matrices, whose range one scale fits well.
    const as = kind === 'count' || !options.quantize ? null : options.quantize === 'uint8' && kind === 'vector' ? null : options.quantize;
    const stored = as ? encodeWeight(w.data, as) : null;
    chunks.push(stored ? stored.bytes : new Uint8Array(w.data.buffer, w.data.byteOffset, w.data.byteLength));
    entries.push({ name: w.name, shape: w.shape, dtype: 'float32', ...(stored && { quantization: stored.quantization }) });
  }
  const length = chunks.reduce((n, c) => n + c.length, 0);
  // Padded to whole 4-byte words, as a float32 weights file always is.
  const bin = new Uint8Array(Math.ceil(length / 4) * 4);
  let off = 0;
  for (const c of chunks) {
    bin.set(c, off);
    off += c.length;
  }
  const manifest: ModelJson = {
    format: 'scenelab-classifier',
    formatVersion: 1,
    arch: model.archName,
    numClasses: model.numClasses,
    labels: model.labels,
    preprocessing: model.preprocessing,
    weightsManifest: [{ paths: ['weights.bin'], weights: entries }],
  };
  const files: ModelFiles = new Map([
    ['model.json', json(manifest)],
    ['weights.bin', bin],
    ['labels.json', json(model.labels)],
    ['preprocessing.json', json(model.preprocessing)],
  ]);
  if (extras.hyperparameters) files.set('hyperparameters.json', json(extras.hyperparameters));
  if (extras.metrics) files.set('metrics.json', json(extras.metrics));
  if (extras.history) {
    files.set('history.json', json(extras.history));
    files.set('curves.svg', strToU8(trainingCurvesSvg(extras.history)));
  }
  return files;
}

function parseJson(files: ModelFiles, name: string): unknown {
  const bytes = files.get(name);
  if (!bytes) throw new ModelFormatError(`${name} is missing`);
  try {
    return JSON.parse(strFromU8(bytes));
  } catch {
    throw new ModelFormatError(`${name} is not valid JSON`);
  }
}

/** Reads and checks `model.json` alone (cheap: no weights). */
export function readModelJson(files: ModelFiles): ModelJson {
  const m = parseJson(files, 'model.json') as Partial<ModelJson>;
  if (m?.format !== 'scenelab-classifier') throw new ModelFormatError('model.json is not a SceneLab classifier (format field)');
  if (m.formatVersion !== 1) throw new ModelFormatError(`model.json format version ${String(m.formatVersion)} is not supported (this build reads version 1)`);
  if (typeof m.arch !== 'string' || !isArchName(m.arch)) throw new ModelFormatError(`model.json names an unknown architecture "${String(m.arch)}"`);
  if (!Number.isInteger(m.numClasses) || (m.numClasses ?? 0) < 2) throw new ModelFormatError('model.json: numClasses must be an integer ≥ 2');
  if (!Array.isArray(m.labels) || m.labels.length !== m.numClasses || !m.labels.every((l) => typeof l === 'string'))
    throw new ModelFormatError('model.json: labels must be one string per class');
  try {
    validatePreprocessSpec(m.preprocessing);
  } catch (e) {
    throw new ModelFormatError(`model.json: ${(e as Error).message}`);
  }
  if (!Array.isArray(m.weightsManifest) || m.weightsManifest.length === 0) throw new ModelFormatError('model.json: weightsManifest is missing');
  return m as ModelJson;
}

/**
 * Builds the model a set of files describes: a SceneLab run (`model.json` + `weights.bin`), or
 * a run a PyTorch trainer wrote (`model.pth` + `labels.json` + `preprocessing.json` +
 * `hyperparameters.json` naming the architecture), such as the cloud trainer's.
 */
export function importModelFiles(files: ModelFiles): ClassifierModel {
  if (!files.has('model.json') && files.has('model.pth')) return importTorchRun(files);
  const manifest = readModelJson(files);
  const weights: NamedWeight[] = [];
  for (const group of manifest.weightsManifest) {
    const chunks = group.paths.map((p) => {
      const b = files.get(p);
      if (!b) throw new ModelFormatError(`weights file ${p} named in model.json is missing`);
      return b;
    });
    const bytes = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let o = 0;
    for (const c of chunks) {
      bytes.set(c, o);
      o += c.length;
    }
    for (const w of group.weights) {
      if (w.dtype !== 'float32') throw new ModelFormatError(`weight ${w.name} has dtype ${String(w.dtype)}; only float32 is supported`);
      const problem = w.quantization === undefined ? null : quantizationProblem(w.quantization);
      if (problem) throw new ModelFormatError(`weight ${w.name}: ${problem}`);
    }
    const needed = group.weights.reduce((n, w) => n + storedBytes(sizeOf(w.shape), w.quantization), 0);
    if (bytes.length < needed || bytes.length > Math.ceil(needed / 4) * 4) throw new ModelFormatError(`weights hold ${bytes.length} bytes, model.json describes ${needed}`);
    let at = 0;
    for (const w of group.weights) {
      const n = sizeOf(w.shape);
      const size = storedBytes(n, w.quantization);
      // Copied out: a slice of a zip or file may start at any byte offset, a Float32Array may not.
      const raw = bytes.slice(at, at + size);
      weights.push({ name: w.name, shape: w.shape, data: w.quantization ? decodeWeight(raw, n, w.quantization) : new Float32Array(raw.buffer) });
      at += size;
    }
  }
  const model = ClassifierModel.create({ arch: manifest.arch as ClassifierModel['archName'], numClasses: manifest.numClasses, labels: manifest.labels, preprocessing: manifest.preprocessing });
  try {
    model.setWeights(weights);
  } catch (e) {
    model.dispose();
    throw new ModelFormatError(`weights do not fit ${manifest.arch}: ${(e as Error).message}`);
  }
  return model;
}

/** A run directory written by a PyTorch trainer: the state_dict and the JSON files beside it. */
function importTorchRun(files: ModelFiles): ClassifierModel {
  const hp = parseJson(files, 'hyperparameters.json') as { arch?: unknown } | null;
  const arch = hp?.arch;
  if (typeof arch !== 'string' || !isArchName(arch)) throw new ModelFormatError(`hyperparameters.json names an unknown architecture "${String(arch)}"`);
  const labels = parseJson(files, 'labels.json');
  if (!Array.isArray(labels) || labels.length < 2 || !labels.every((l) => typeof l === 'string')) throw new ModelFormatError('labels.json must list at least 2 class names');
  let preprocessing: PreprocessSpec;
  try {
    preprocessing = validatePreprocessSpec(parseJson(files, 'preprocessing.json'));
  } catch (e) {
    throw e instanceof ModelFormatError ? e : new ModelFormatError(`preprocessing.json: ${(e as Error).message}`);
  }
  let stateDict;
  try {
    stateDict = readPth(files.get('model.pth')!);
  } catch (e) {
    throw new ModelFormatError(`model.pth: ${(e as Error).message}`);
  }
  const model = ClassifierModel.create({ arch, numClasses: labels.length, labels: labels as string[], preprocessing });
  try {
    const report = model.loadStateDict(stateDict);
    if (report.kept.length > 0 || report.headReplaced.length > 0) {
      throw new Error(`it does not cover ${[...report.kept, ...report.headReplaced].slice(0, 3).join(', ')}${report.kept.length + report.headReplaced.length > 3 ? ' and more' : ''} for ${labels.length} classes`);
    }
  } catch (e) {
    model.dispose();
    throw new ModelFormatError(`model.pth does not fit ${arch}: ${(e as Error).message}`);
  }
  return model;
}

/** Largest bundle accepted when unzipping (decompressed), against zip bombs. */
export const MAX_BUNDLE_BYTES = 512 * 1024 * 1024;

/** A model bundle: the model files in one zip. */
export function zipModelFiles(files: ModelFiles): Uint8Array {
  // weights.bin is deflated too: a pruned model's zeros are where its bundle gets smaller.
  return zipSync(Object.fromEntries([...files].map(([name, data]) => [name, [data, { level: 6 }]])));
}

/** Files of a model bundle (a SceneLab run, or a PyTorch trainer's). Accepts a bundle whose files sit inside one top-level folder. */
export function unzipModelFiles(bundle: Uint8Array): ModelFiles {
  let entries: Record<string, Uint8Array>;
  let total = 0;
  try {
    entries = unzipSync(bundle, {
      filter: (f) => {
        total += f.originalSize;
        if (total > MAX_BUNDLE_BYTES) throw new ModelFormatError(`bundle unpacks to more than ${MAX_BUNDLE_BYTES >> 20} MiB`);
        return !f.name.endsWith('/');
      },
    });
  } catch (e) {
    if (e instanceof ModelFormatError) throw e;
    throw new ModelFormatError('not a zip file (a model bundle is a .zip holding model.json and weights.bin)');
  }
  const names = Object.keys(entries);
  // A SceneLab bundle has model.json; a PyTorch trainer's run (the cloud trainer) has model.pth.
  const manifest = names.find((n) => n === 'model.json' || n.endsWith('/model.json')) ?? names.find((n) => n === 'model.pth' || n.endsWith('/model.pth'));
  if (!manifest) throw new ModelFormatError('bundle has no model.json (nor a model.pth with its JSON files)');
  const prefix = manifest.slice(0, manifest.lastIndexOf('/') + 1);
  return new Map(names.filter((n) => n.startsWith(prefix)).map((n) => [n.slice(prefix.length), entries[n]!]));
}
