import { strToU8, zipSync, type Zippable } from 'fflate';
import type { ClassifierModel } from '../../model';
import { writePth } from '../../pth';
import { HANDLER_PY } from './handler-py';
import { modelPy } from './model-py';

/** What TorchServe records about the model; everything has a default. */
export interface MarOptions {
  /** TorchServe's name for the model (its `/predictions/NAME` path); defaults to the architecture's name. */
  modelName?: string;
  /** Defaults to `1.0`. TorchServe refuses an archive without one. */
  modelVersion?: string;
  /** `createdOn` in the manifest; defaults to now. */
  createdOn?: Date;
}

/** `MAR-INF/MANIFEST.json`, as torch-model-archiver writes it. */
export interface MarManifest {
  createdOn: string;
  runtime: 'python';
  model: { modelName: string; serializedFile: string; handler: string; modelFile: string; modelVersion: string };
  archiverVersion: string;
}

/** The torch-model-archiver release whose archive layout and manifest this follows. */
export const MAR_ARCHIVER_VERSION = '0.12.0';

/** torch-model-archiver's rule for model names, which TorchServe puts in URLs. */
const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9_\-.]*$/;

/** torch-model-archiver's `%d/%m/%Y %H:%M:%S`, local time. */
function archiverTimestamp(d: Date): string {
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${two(d.getDate())}/${two(d.getMonth() + 1)}/${d.getFullYear()} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

const json = (v: unknown): Uint8Array => strToU8(JSON.stringify(v, null, 2) + '\n');

/**
 * A TorchServe model archive (.mar) in eager mode: `model.pth` (the torchvision state_dict),
 * `model.py` (the torchvision model class for it), `handler.py` (decoding, SceneLab's
 * preprocessing, softmax), `index_to_name.json`, `preprocessing.json` and the manifest.
 */
export async function exportMar(model: ClassifierModel, options: MarOptions = {}): Promise<Uint8Array> {
  const modelName = options.modelName ?? model.archName;
  if (!MODEL_NAME.test(modelName)) throw new Error(`TorchServe model name "${modelName}" must match ${MODEL_NAME.source}`);
  const modelVersion = options.modelVersion ?? '1.0';
  if (modelVersion.trim() === '') throw new Error('TorchServe needs a model version');
  const manifest: MarManifest = {
    createdOn: archiverTimestamp(options.createdOn ?? new Date()),
    runtime: 'python',
    model: { modelName, serializedFile: 'model.pth', handler: 'handler.py', modelFile: 'model.py', modelVersion },
    archiverVersion: MAR_ARCHIVER_VERSION,
  };
  const files: Zippable = {
    'MAR-INF/MANIFEST.json': json(manifest),
    // Float weights barely deflate; stored, they unzip at disk speed.
    'model.pth': [writePth(await model.stateDict()), { level: 0 }],
    'model.py': strToU8(modelPy(model.archName, model.numClasses)),
    'handler.py': strToU8(HANDLER_PY),
    'index_to_name.json': json(Object.fromEntries(model.labels.map((label, i) => [String(i), label]))),
    'preprocessing.json': json(model.preprocessing),
  };
  return zipSync(files, { level: 6 });
}
