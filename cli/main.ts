import { InputError } from '../node/errors';

const HELP = `scenelab — train, evaluate and run SceneLab image classifiers

Usage:
  scenelab train   --data DIR|FILE --arch squeezenet1_1|mobilenet_v3_small --out RUN_DIR [options]
  scenelab eval    --model RUN_DIR|BUNDLE --data DIR|FILE [--json]
  scenelab tune    --data DIR|FILE --study FILE.json --trials N|--time-budget S [--freeze] [--best-out RUN_DIR] [options]
  scenelab predict --model RUN_DIR|BUNDLE [--json] IMAGE...
  scenelab export  --model RUN_DIR|BUNDLE [--pth|--onnx|--mar|--torchscript|--bundle FILE] [--quantize f16|u8] [--prune S] [--sweep 0,50,70,90]
  scenelab deploy  --model RUN_DIR|BUNDLE --project P --region R --bucket B --image IMAGE_URI [options]
  scenelab cloud train --data DIR|gs://… --arch NAME --out RUN_DIR --project P --region R --staging gs://B/P [options]

Run "scenelab <command> --help" for a command's options.`;

type Command = (argv: string[]) => Promise<number>;

const COMMANDS: Record<string, () => Promise<Command>> = {
  train: async () => (await import('./commands/train')).trainCommand,
  tune: async () => (await import('./commands/tune')).tuneCommand,
  eval: async () => (await import('./commands/eval')).evalCommand,
  predict: async () => (await import('./commands/predict')).predictCommand,
  export: async () => (await import('./commands/export')).exportCommand,
  deploy: async () => (await import('./commands/deploy')).deployCommand,
  cloud: async () => (await import('./commands/cloud')).cloudCommand,
};

/** Runs the CLI and returns the exit code. Errors are printed on one line, never as a stack trace. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(HELP + '\n');
    return name ? 0 : 2;
  }
  const load = COMMANDS[name];
  if (!load) {
    process.stderr.write(`scenelab: unknown command "${name}" (expected ${Object.keys(COMMANDS).join(', ')})\n`);
    return 2;
  }
  try {
    return await (await load())(rest);
  } catch (e) {
    const err = e as Error;
    const known = err instanceof InputError || ['WeightsMismatchError', 'PthFormatError', 'ModelFormatError', 'ImageDecodeError', 'RangeError', 'JobFailedError'].includes(err.name);
    const message = (err.message ?? String(e)).split('\n')[0];
    process.stderr.write(`scenelab ${name}: ${known ? '' : 'error: '}${message}\n`);
    if (process.env.SCENELAB_DEBUG) process.stderr.write(`${err.stack ?? ''}\n`);
    return err instanceof InputError ? 2 : 1;
  }
}
