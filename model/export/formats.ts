/**
 * Every format a trained model leaves SceneLab in, by name: the CLI's `export` flags and the
 * app's Export panel both write through {@link exportAs}.
 */
import { zipModelFiles, type ModelFiles } from '../artifacts';
import type { ClassifierModel } from '../model';
import { writePth } from '../pth';
import { exportOnnx } from './onnx';
import { exportTorchScript } from './torchscript';
import { exportMar } from './torchserve/mar';

/** The formats, and the file extension each is saved with. */
export const EXPORT_FORMATS = { bundle: 'zip', pth: 'pth', onnx: 'onnx', mar: 'mar', torchscript: 'pt' } as const;

export type ExportFormat = keyof typeof EXPORT_FORMATS;

export function isExportFormat(name: string): name is ExportFormat {
  return Object.hasOwn(EXPORT_FORMATS, name);
}

/**
 * The model in one format. `files` are the model's own files (for the bundle, which keeps
 * their weights as stored, quantized or not); the other formats are written from `model`.
 */
export async function exportAs(format: ExportFormat, model: ClassifierModel, files: ModelFiles): Promise<Uint8Array> {
  switch (format) {
    case 'bundle':
      return zipModelFiles(files);
    case 'pth':
      return writePth(await model.stateDict());
    case 'onnx':
      return exportOnnx(model);
    case 'mar':
      return exportMar(model);
    case 'torchscript':
      return exportTorchScript(model);
  }
}
