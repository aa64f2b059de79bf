import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './errors';

/** Parses options strictly; unknown flags and missing values become a one-line UsageError. */
export function parse<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T, allowPositionals = false) {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message.split('\n')[0]!.replace(/\. To specify a positional.*$/, ''));
  }
}

/** Reads a numeric option, naming it in the error. */
export function numberOption(name: string, value: string | undefined, fallback: number, integer = false): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n))) {
    throw new UsageError(`--${name} expects ${integer ? 'an integer' : 'a number'}, got "${value}"`);
  }
  return n;
}
