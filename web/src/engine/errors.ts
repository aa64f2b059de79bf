import { ModelFormatError } from '../../../model/artifacts';
import { LabelActionError } from '../../../model/labels';
import { PthFormatError } from '../../../model/pth';

/**
 * The engine's named failures, in one place. Each message tells the user what to do; each
 * class is rebuilt by name on the page's side of the worker boundary (`engineErrorFrom`), so
 * screens can tell them apart with `instanceof`.
 */

/** The app could not store something because the browser's quota for it is used up. Nothing was half-written. */
export class StorageFullError extends Error {
  constructor(what: string) {
    super(`Storage is full: ${what} was not saved (nothing was half-written). Delete datasets or models you no longer need, or allow the site more storage.`);
    this.name = 'StorageFullError';
  }
}

/** The GPU went away mid-run; the run continues on the next backend from its last checkpoint. */
export class DeviceLostError extends Error {
  constructor(reason: string) {
    super(`the GPU device was lost (${reason})`);
    this.name = 'DeviceLostError';
  }
}

/** The worker was replaced while this call was in flight; trying again is safe. */
export class EngineRestartedError extends Error {
  constructor() {
    super('The engine stopped responding and was restarted; try again.');
    this.name = 'EngineRestartedError';
  }
}

/** A model bundle that cannot be imported; the message names the file and the field. */
export class BundleFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BundleFormatError';
  }
}

/** An error as it crosses the worker boundary; `name` picks the class it is rebuilt as. */
export interface WireError {
  name: string;
  message: string;
}

/** The classes the page can tell apart after the boundary, by name. */
const ENGINE_ERRORS: Record<string, { prototype: Error }> = {
  ModelFormatError,
  PthFormatError,
  StorageFullError,
  DeviceLostError,
  EngineRestartedError,
  BundleFormatError,
  LabelActionError,
};

/** Rebuilds an engine error from the wire: the same class (so `instanceof` works), name and message. */
export function engineErrorFrom(wire: WireError): Error {
  if (wire.name === 'AbortError') return new DOMException(wire.message, 'AbortError');
  const cls = ENGINE_ERRORS[wire.name];
  const e: Error = cls ? (Object.create(cls.prototype) as Error) : new Error(wire.message);
  Object.defineProperty(e, 'message', { value: wire.message, writable: true, configurable: true });
  Object.defineProperty(e, 'name', { value: wire.name, writable: true, configurable: true });
  return e;
}
