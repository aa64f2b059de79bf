import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { importModelFiles, ModelFormatError, unzipModelFiles, type ModelFiles } from '../model/artifacts';
import type { ClassifierModel } from '../model/model';
import { InputError } from './errors';

/** Reads the files of a run directory or a model bundle (.zip). */
export async function readModelFiles(location: string): Promise<ModelFiles> {
  let st;
  try {
    st = await stat(location);
  } catch {
    throw new InputError(`--model ${location}: no such run directory or bundle`);
  }
  if (st.isFile()) return unzipModelFiles(await readFile(location));
  const files: ModelFiles = new Map();
  for (const name of await readdir(location)) {
    if (name.endsWith('.json') || name === 'weights.bin') files.set(name, await readFile(path.join(location, name)));
  }
  // A run a PyTorch trainer wrote (the cloud trainer) has the state_dict instead of the tfjs files.
  if (!files.has('model.json') && files.has('hyperparameters.json')) {
    try {
      files.set('model.pth', await readFile(path.join(location, 'model.pth')));
    } catch {
      // reported below as a directory that is not a run
    }
  }
  if (!files.has('model.json') && !files.has('model.pth')) throw new InputError(`--model ${location}: no model.json there (is it a run directory from "scenelab train"?)`);
  return files;
}

/** Loads a model from a run directory or bundle, turning format problems into one-line errors. */
export async function loadModel(location: string): Promise<ClassifierModel> {
  const files = await readModelFiles(location);
  try {
    return importModelFiles(files);
  } catch (e) {
    if (e instanceof ModelFormatError) throw new InputError(`--model ${location}: ${e.message}`);
    throw e;
  }
}

/**
 * Writes files into a directory atomically: into a sibling temporary folder first, renamed
 * into place at the end, so an interrupted run never leaves a half-written model behind.
 */
export async function writeModelDir(dir: string, files: ModelFiles): Promise<void> {
  const tmp = `${dir.replace(/\/+$/, '')}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  for (const [name, data] of files) await writeFile(path.join(tmp, name), data);
  await rm(dir, { recursive: true, force: true });
  await rename(tmp, dir);
}
