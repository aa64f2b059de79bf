import { writeFile } from 'node:fs/promises';
import { zipModelFiles } from '../../model/artifacts';
import { importModelFiles } from '../../model/artifacts';
import { writePth } from '../../model/pth';
import { initNodeBackend } from '../../node/backend';
import { UsageError } from '../errors';
import { parse } from '../args';
import { readModelFiles } from '../../node/model-store';

const HELP = `scenelab export — write a trained model in another format

  --model RUN_DIR|BUNDLE
  --pth FILE      a torchvision state_dict (torch.load + model.load_state_dict in PyTorch)
  --bundle FILE   a model bundle (.zip) for the app, the server or Vertex AI`;

export async function exportCommand(argv: string[]): Promise<number> {
  const { values: v } = parse(argv, { model: { type: 'string' }, pth: { type: 'string' }, bundle: { type: 'string' }, help: { type: 'boolean', short: 'h' } });
  if (v.help) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  if (!v.model) throw new UsageError('--model is required');
  if (!v.pth && !v.bundle) throw new UsageError('say what to write: --pth FILE and/or --bundle FILE');
  const files = await readModelFiles(v.model);
  if (v.bundle) await writeFile(v.bundle, zipModelFiles(files));
  if (v.pth) {
    await initNodeBackend('wasm');
    const model = importModelFiles(files);
    try {
      await writeFile(v.pth, writePth(await model.stateDict()));
    } finally {
      model.dispose();
    }
  }
  return 0;
}
