/**
 * What a hyperparameter search may choose from: a search space is a record of named
 * distributions (a float, an integer or one of a list of choices), kept as plain JSON so a
 * study can store the space it searched. Parameters are drawn in the record's key order, which
 * lets a parameter depend on an earlier categorical one ({@link when}).
 */

/** A value a categorical parameter can take; all are JSON values and compare with `===`. */
export type CategoricalChoice = string | number | boolean | null;

/** Any parameter value (numbers for float and int distributions). */
export type ParamValue = CategoricalChoice;

/** The parameters of one trial, by name. A conditional parameter whose condition failed is absent. */
export type Params = Record<string, ParamValue>;

/** A parameter that is only drawn when an earlier categorical parameter took a value. */
export interface Condition {
  param: string;
  equals: CategoricalChoice;
}

/** A real number in [low, high]; `log` draws evenly in log space, `step` keeps to low + k·step. */
export interface FloatDistribution {
  type: 'float';
  low: number;
  high: number;
  log: boolean;
  step: number | null;
  onlyIf?: Condition;
}

/** An integer in [low, high] on the grid low + k·step; `log` draws evenly in log space (step 1 only). */
export interface IntDistribution {
  type: 'int';
  low: number;
  high: number;
  log: boolean;
  step: number;
  onlyIf?: Condition;
}

/** One of a list of choices, unordered. */
export interface CategoricalDistribution<T extends CategoricalChoice = CategoricalChoice> {
  type: 'categorical';
  choices: readonly T[];
  onlyIf?: Condition;
}

export type Distribution = FloatDistribution | IntDistribution | CategoricalDistribution;

/** Named distributions; parameters are drawn in key order. */
export type SearchSpace = Record<string, Distribution>;

type ValueOf<D> = D extends CategoricalDistribution<infer T> ? T : number;
type Conditional<S> = { [K in keyof S]: S[K] extends { onlyIf: Condition } ? K : never }[keyof S];

/** The typed parameters of a trial drawn from space `S` (conditional parameters optional). */
export type ParamsOf<S extends SearchSpace> = { -readonly [K in Exclude<keyof S, Conditional<S>>]: ValueOf<S[K]> } & {
  -readonly [K in Conditional<S>]?: ValueOf<S[K]>;
};

/** A float distribution (Optuna's `suggest_float`). */
export function float(low: number, high: number, options: { log?: boolean; step?: number } = {}): FloatDistribution {
  return { type: 'float', low, high, log: options.log ?? false, step: options.step ?? null };
}

/** An integer distribution (Optuna's `suggest_int`). */
export function int(low: number, high: number, options: { log?: boolean; step?: number } = {}): IntDistribution {
  return { type: 'int', low, high, log: options.log ?? false, step: options.step ?? 1 };
}

/** A categorical distribution; the choices' literal types carry through to {@link ParamsOf}. */
export function categorical<const T extends CategoricalChoice>(choices: readonly T[]): CategoricalDistribution<T> {
  return { type: 'categorical', choices };
}

/** `distribution`, drawn only when the earlier categorical parameter `param` took `equals`. */
export function when<D extends Distribution>(param: string, equals: CategoricalChoice, distribution: D): D & { onlyIf: Condition } {
  return { ...distribution, onlyIf: { param, equals } };
}

/** Checks a space, naming the first bad parameter (RangeError); returns it unchanged. */
export function validateSpace<S extends SearchSpace>(space: S): S {
  const names = Object.keys(space);
  if (names.length === 0) throw new RangeError('a search space needs at least one parameter');
  names.forEach((name, i) => {
    const d = space[name]!;
    const fail = (msg: string): never => {
      throw new RangeError(`search space: ${name}: ${msg}`);
    };
    if (d.type === 'categorical') {
      if (d.choices.length === 0) fail('needs at least one choice');
      if (new Set(d.choices).size !== d.choices.length) fail('has a choice twice');
    } else if (d.type === 'float' || d.type === 'int') {
      if (!Number.isFinite(d.low) || !Number.isFinite(d.high) || d.low > d.high) fail(`needs finite low ≤ high, got [${d.low}, ${d.high}]`);
      if (d.log && d.low <= 0) fail(`a log scale needs low > 0, got ${d.low}`);
      if (d.step !== null && !(d.step > 0)) fail(`step must be positive, got ${d.step}`);
      if (d.type === 'int') {
        if (!Number.isInteger(d.low) || !Number.isInteger(d.high) || !Number.isInteger(d.step)) fail('int bounds and step must be integers');
        if (d.log && d.step !== 1) fail('a log-scale int takes step 1');
        if ((d.high - d.low) % d.step !== 0) fail(`high - low must be a multiple of step ${d.step}`);
      } else if (d.step !== null) {
        if (d.log) fail('a float takes either log or step, not both');
        const k = (d.high - d.low) / d.step;
        if (Math.abs(k - Math.round(k)) > 1e-9 * Math.max(1, k)) fail(`high - low must be a multiple of step ${d.step}`);
      }
    } else {
      fail(`unknown distribution type ${String((d as { type: unknown }).type)}`);
    }
    if (d.onlyIf) {
      const parent = space[d.onlyIf.param];
      if (!parent || names.indexOf(d.onlyIf.param) >= i) fail(`its condition names "${d.onlyIf.param}", which must be an earlier parameter`);
      else if (parent.type !== 'categorical' || !parent.choices.includes(d.onlyIf.equals)) fail(`its condition needs a categorical "${d.onlyIf.param}" with the choice ${String(d.onlyIf.equals)}`);
    }
  });
  return space;
}

/** Whether `value` is one the distribution can produce. */
export function contains(d: Distribution, value: ParamValue | undefined): boolean {
  if (d.type === 'categorical') return value !== undefined && d.choices.includes(value);
  if (typeof value !== 'number' || !Number.isFinite(value) || value < d.low || value > d.high) return false;
  if (d.type === 'int') return Number.isInteger(value) && (value - d.low) % d.step === 0;
  if (d.step === null) return true;
  const k = (value - d.low) / d.step;
  return Math.abs(k - Math.round(k)) < 1e-8;
}

/** Whether a parameter is drawn, given the parameters drawn before it. */
export function isActive(d: Distribution, earlier: Params): boolean {
  return !d.onlyIf || earlier[d.onlyIf.param] === d.onlyIf.equals;
}

/** Draws every active parameter of `space` in key order with `draw`. */
export function sampleSpace(space: SearchSpace, draw: (name: string, d: Distribution) => ParamValue): Params {
  const params: Params = {};
  for (const [name, d] of Object.entries(space)) {
    if (isActive(d, params)) params[name] = draw(name, d);
  }
  return params;
}

/** The grid point nearest `x` (low + k·step), kept inside [low, high]. */
export function snapToStep(x: number, low: number, high: number, step: number): number {
  return Math.min(high, Math.max(low, low + Math.round((x - low) / step) * step));
}

/**
 * The interval a numeric distribution is drawn from, in the space it is drawn evenly in: a
 * stepped one widened by half a step either side, so rounding gives the end points their
 * fair share; a log one in natural-log units.
 */
export function drawInterval(d: FloatDistribution | IntDistribution): { low: number; high: number } {
  const half = d.step === null ? 0 : d.step / 2;
  const low = d.low - half;
  const high = d.high + half;
  return d.log ? { low: Math.log(low), high: Math.log(high) } : { low, high };
}

/** The value of a draw `x` from {@link drawInterval}, back in the distribution's own space. */
export function fromDrawSpace(d: FloatDistribution | IntDistribution, x: number): number {
  const v = d.log ? Math.exp(x) : x;
  if (d.step === null) return Math.min(d.high, Math.max(d.low, v));
  return snapToStep(v, d.low, d.high, d.step);
}
