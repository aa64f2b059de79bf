/**
 * The space `scenelab tune` searches: SceneLab's default space or a `--space` file, less the
 * parameters a run flag fixes (`--freeze` searches head-only runs only, `--arch` one
 * architecture, `--lr 1e-3` no learning rate), so the flags mean what they mean for `train`.
 */
import { readFile } from 'node:fs/promises';
import { SCENELAB_SPACE, trialRunOverrides, validateSpace, type Params, type SearchSpace } from '../../model/tune';
import { UsageError } from '../errors';

/** The run flags that fix a searched parameter, and the parameters they fix. */
const FIXING_FLAGS: ReadonlyArray<[flag: string, fixes: (value: string | boolean) => Params]> = [
  ['arch', (v) => ({ arch: v })],
  ['freeze', () => ({ freeze: true })],
  ['lr', (v) => ({ learningRate: Number(v) })],
  ['batch-size', (v) => ({ batchSize: Number(v) })],
  ['epochs', (v) => ({ epochs: Number(v) })],
  ['optimizer', (v) => ({ optimizer: v })],
  ['momentum', (v) => ({ momentum: Number(v) })],
  ['weight-decay', (v) => ({ useWeightDecay: Number(v) > 0, weightDecay: Number(v) })],
  ['no-flip', () => ({ hflip: false })],
  ['no-bn-recalibration', () => ({ recalibrateBatchNorm: false })],
];

/** The parameters the given flags fix (values as the flags give them; the run options check them). */
export function paramsFixedByFlags(flags: Record<string, string | boolean | undefined>): Params {
  const fixed: Params = {};
  for (const [flag, fixes] of FIXING_FLAGS) {
    const value = flags[flag];
    if (value !== undefined && value !== false) Object.assign(fixed, fixes(value));
  }
  return fixed;
}

/**
 * `space` without the parameters in `fixed`. A parameter that was conditional on a fixed one
 * stays (unconditionally) when the fixed value meets its condition, and goes when it does not.
 */
export function fixParams(space: SearchSpace, fixed: Params): SearchSpace {
  const out: SearchSpace = {};
  for (const [name, d] of Object.entries(space)) {
    if (name in fixed) continue;
    if (d.onlyIf && d.onlyIf.param in fixed) {
      if (fixed[d.onlyIf.param] !== d.onlyIf.equals) continue;
      const { onlyIf: _condition, ...unconditional } = d;
      out[name] = unconditional;
    } else if (d.onlyIf && !(d.onlyIf.param in out)) {
      continue;
    } else out[name] = d;
  }
  return out;
}

/** Checks that every parameter of a space sets a training option, naming the first that does not. */
function checkParamNames(space: SearchSpace): void {
  for (const [name, d] of Object.entries(space)) {
    const value = d.type === 'categorical' ? d.choices[0]! : d.low;
    trialRunOverrides({ [name]: value });
  }
}

/** Reads a `--space` file: a JSON object of distributions as `model/tune` writes them. */
export async function readSpaceFile(file: string): Promise<SearchSpace> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new UsageError(`--space ${file}: no such file`);
  }
  try {
    const space = JSON.parse(text) as unknown;
    if (typeof space !== 'object' || space === null || Array.isArray(space)) throw new RangeError('expected a JSON object of named distributions');
    validateSpace(space as SearchSpace);
    checkParamNames(space as SearchSpace);
    return space as SearchSpace;
  } catch (e) {
    throw new UsageError(`--space ${file}: ${(e as Error).message}`);
  }
}

/** The space to search: the file's or SceneLab's, less what the flags fix; an empty result is an error. */
export function searchSpace(base: SearchSpace | null, fixed: Params): SearchSpace {
  const space = fixParams(base ?? SCENELAB_SPACE, fixed);
  if (Object.keys(space).length === 0) throw new UsageError('the flags fix every parameter of the search space: nothing is left to search');
  return validateSpace(space);
}
