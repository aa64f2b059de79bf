/**
 * A study as stored: JSON text in the CLI's file, the same object in the app's IndexedDB.
 * Reading checks the format, version and shape, so a file from elsewhere or from a newer
 * SceneLab is refused with a message rather than half-used.
 */
import { validateSpace, type SearchSpace } from './distributions';
import { resumeStudy, STUDY_VERSION, type Study } from './study';

/** A stored study that cannot be read; the message says what is wrong. */
export class StudyFormatError extends Error {
  override name = 'StudyFormatError';
}

/** The study as JSON text. */
export function serializeStudy(study: Study): string {
  return JSON.stringify(study);
}

type Json = Record<string, unknown>;

function isObject(x: unknown): x is Json {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new StudyFormatError(`not a SceneLab study: ${what}`);
}

const isNumber = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
const isNumberOrNull = (x: unknown): boolean => x === null || isNumber(x);
const isParamValue = (x: unknown): boolean => x === null || typeof x === 'string' || typeof x === 'boolean' || isNumber(x);
const isParams = (x: unknown): boolean => isObject(x) && Object.values(x).every(isParamValue);

function checkTrial(t: unknown, i: number): void {
  const at = `trial ${i}`;
  check(isObject(t), `${at} is not an object`);
  const trial = t as Json;
  check(trial.number === i, `${at} has number ${String(trial.number)}`);
  check(isParams(trial.params), `${at} has bad params`);
  check(['running', 'complete', 'pruned', 'failed'].includes(trial.state as string), `${at} has state ${String(trial.state)}`);
  check(Array.isArray(trial.intermediate) && trial.intermediate.every((v: unknown) => isObject(v) && isNumber(v.step) && isNumberOrNull(v.value)), `${at} has bad intermediate values`);
  check(isNumberOrNull(trial.value), `${at} has a bad value`);
  check(trial.state !== 'complete' || isNumber(trial.value), `${at} is complete without a value`);
  check(isNumber(trial.startedAt) && isNumberOrNull(trial.endedAt), `${at} has bad times`);
  check(trial.failure === null || (isObject(trial.failure) && ['interrupted', 'error'].includes(trial.failure.reason as string) && typeof trial.failure.message === 'string'), `${at} has a bad failure`);
  check(trial.retryOf === null || (Number.isInteger(trial.retryOf) && (trial.retryOf as number) < i), `${at} has a bad retryOf`);
  check(Array.isArray(trial.rungs) && trial.rungs.every(isNumber), `${at} has bad rungs`);
}

/**
 * Reads a stored study (JSON text, or the parsed object IndexedDB gives back), checking its
 * shape; throws {@link StudyFormatError}. Trials left running are left as they are: call
 * {@link loadStudy} to continue the study.
 */
export function parseStudy(input: string | unknown): Study {
  let s: unknown = input;
  if (typeof input === 'string') {
    try {
      s = JSON.parse(input);
    } catch (e) {
      throw new StudyFormatError(`a study must be JSON: ${(e as Error).message}`);
    }
  }
  check(isObject(s) && s.format === 'scenelab-study', 'the format field is not "scenelab-study"');
  const o = s as Json;
  if (o.version !== STUDY_VERSION) throw new StudyFormatError(`this study is version ${String(o.version)}; this SceneLab reads version ${STUDY_VERSION} — update SceneLab to continue it`);
  check(typeof o.name === 'string' && typeof o.objective === 'string', 'name and objective must be strings');
  check(o.direction === 'maximize' || o.direction === 'minimize', `direction ${String(o.direction)}`);
  check(isNumber(o.createdAt), 'createdAt must be a number');
  check(isObject(o.space) && Object.values(o.space).every((d) => isObject(d) && typeof d.type === 'string'), 'the space must map names to distributions');
  try {
    validateSpace(o.space as SearchSpace);
  } catch (e) {
    throw new StudyFormatError(`not a SceneLab study: ${(e as Error).message}`);
  }
  check(Array.isArray(o.trials), 'trials must be a list');
  (o.trials as unknown[]).forEach(checkTrial);
  check(o.userAttrs === undefined || isObject(o.userAttrs), 'userAttrs must be an object');
  check(Array.isArray(o.queue) && o.queue.every((q: unknown) => isObject(q) && isParams(q.params) && (q.retryOf === null || Number.isInteger(q.retryOf))), 'the queue has a bad entry');
  return s as Study;
}

/**
 * Reads a stored study and makes it ready to go on: trials a crash left running become failed
 * (reason `interrupted`) and their parameters are queued to run first ({@link resumeStudy}).
 */
export function loadStudy(input: string | unknown, now: number = Date.now()): { study: Study; interrupted: number[] } {
  const study = parseStudy(input);
  return { study, interrupted: resumeStudy(study, now) };
}
