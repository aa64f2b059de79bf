import { strToU8, zipSync, type Zippable } from 'fflate';
import type { ClassifierModel } from '../../model';
import { ARCH_NETWORKS } from '../arch';
import { EMPTY_CONSTANTS, pickleScriptModule, type ScriptAttribute } from './pickle';
import { ScriptBuilder } from './script-builder';

/** Where the class lives (`__torch__.scenelab.SceneLabClassifier`) and the archive's top folder. */
const MODULE = 'scenelab';
const CLASS_NAME = 'SceneLabClassifier';
const ARCHIVE = 'archive';

/** Extra files in the archive, read with `torch.jit.load(f, _extra_files={name: ''})`. */
export const TORCHSCRIPT_EXTRA_FILES = {
  arch: 'scenelab.arch',
  labels: 'scenelab.labels.json',
  preprocessing: 'scenelab.preprocessing.json',
} as const;

/** A storage record: raw little-endian float32, as torch writes them whatever the machine. */
function float32LittleEndian(values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i]!, true);
  return out;
}

/**
 * The model as a TorchScript archive that `torch.jit.load` reads without the model's Python
 * code: `forward(input)` takes an NCHW float batch preprocessed as the `scenelab.preprocessing.json`
 * extra file says and returns logits. Written in serialization format version 3, what torch
 * 1.13's torch.jit.save writes for these operators; its parameters are the state_dict's, named
 * with `_` for `.`.
 */
export async function exportTorchScript(model: ClassifierModel): Promise<Uint8Array> {
  const sd = await model.stateDict();
  const g = new ScriptBuilder(sd);
  const output = ARCH_NETWORKS[model.archName](g, 'input');
  const files: Zippable = {};
  const attributes: Array<[string, ScriptAttribute]> = [];
  [...g.tensors.values()].forEach((t, i) => {
    files[`${ARCHIVE}/data/${i}`] = float32LittleEndian(sd.get(t.key)!.data);
    attributes.push([t.attribute, { kind: 'tensor', storageKey: String(i), shape: sd.get(t.key)!.shape, requiresGrad: !t.buffer }]);
  });
  attributes.push(['training', { kind: 'bool', value: false }]);
  files[`${ARCHIVE}/data.pkl`] = pickleScriptModule(`__torch__.${MODULE}`, CLASS_NAME, attributes);
  files[`${ARCHIVE}/code/__torch__/${MODULE}.py`] = strToU8(g.source(MODULE, CLASS_NAME, 'input', output));
  files[`${ARCHIVE}/constants.pkl`] = EMPTY_CONSTANTS;
  files[`${ARCHIVE}/extra/${TORCHSCRIPT_EXTRA_FILES.arch}`] = strToU8(model.archName);
  files[`${ARCHIVE}/extra/${TORCHSCRIPT_EXTRA_FILES.labels}`] = strToU8(JSON.stringify(model.labels));
  files[`${ARCHIVE}/extra/${TORCHSCRIPT_EXTRA_FILES.preprocessing}`] = strToU8(JSON.stringify(model.preprocessing));
  files[`${ARCHIVE}/version`] = strToU8('3\n');
  // Stored, not deflated: torch reads tensor records in place.
  return zipSync(files, { level: 0 });
}
