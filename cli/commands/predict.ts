import { ImageDecodeError } from '../../model/data/source';
import { classify } from '../../model/evaluate';
import { backendFromOptions, initNodeBackend } from '../../node/backend';
import { UsageError } from '../errors';
import { parse } from '../args';
import { loadModel } from '../../node/model-store';
import { decodeFile } from '../../node/data';

const HELP = `scenelab predict — classify images with a trained model

  scenelab predict --model RUN_DIR|BUNDLE [--json] IMAGE...
  --backend B   wasm (default) | webgpu | cpu
  --json   one JSON line per image: {"file", "label", "probabilities": {class: p}}
Images that cannot be read are reported on stderr; the others are still classified, and the exit code is 1.`;

export async function predictCommand(argv: string[]): Promise<number> {
  const { values: v, positionals } = parse(argv, { model: { type: 'string' }, json: { type: 'boolean' }, backend: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, true);
  if (v.help) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  if (!v.model) throw new UsageError('--model is required (a run directory or bundle)');
  if (positionals.length === 0) throw new UsageError('no images given: scenelab predict --model RUN_DIR IMAGE...');
  await initNodeBackend(backendFromOptions(v.backend));
  const model = await loadModel(v.model);
  let failures = 0;
  try {
    for (const file of positionals) {
      let image;
      try {
        image = await decodeFile(file);
      } catch (e) {
        if (!(e instanceof ImageDecodeError)) throw e;
        failures++;
        process.stderr.write(`scenelab predict: ${e.message}\n`);
        continue;
      }
      const [p] = await classify(model, [image]);
      if (v.json) process.stdout.write(JSON.stringify({ file, label: p!.label, probabilities: p!.probabilities }) + '\n');
      else process.stdout.write(`${file}\t${p!.label}\t${p!.top.slice(0, 3).map((t) => `${t.label} ${(t.probability * 100).toFixed(1)}%`).join(', ')}\n`);
    }
  } finally {
    model.dispose();
  }
  return failures ? 1 : 0;
}
