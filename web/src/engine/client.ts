/**
 * The page's handle on the engine: a Worker created the Vite way, wrapped by the protocol
 * into an `Engine`. The UI only ever sees the `Engine` interface. When the worker stops
 * answering a cancelled call, it is terminated and a new one takes its place, set up with the
 * backend preference the page last asked for; data lives in IndexedDB, so nothing is lost but
 * the call in flight (an interrupted run resumes from its last checkpoint).
 */
import type { BackendPreference, Engine } from './types';
import { connectEngine, type EngineMessage, type EngineRequest, type Port } from './protocol';

export interface EngineWorker {
  engine: Engine;
  /** The live worker (replaced after a restart). */
  readonly worker: Worker;
  /** How many times the worker has been replaced. */
  readonly restarts: number;
}

const spawnEngineWorker = (): Worker => new Worker(new URL('./worker.ts', import.meta.url), { type: 'module', name: 'scenelab-engine' });

export function startEngineWorker(options: { spawn?: () => Worker; cancelGraceMs?: number } = {}): EngineWorker {
  const spawn = options.spawn ?? spawnEngineWorker;
  let preference: BackendPreference | null = null;
  let restarts = 0;
  let worker: Worker;
  let current: Engine;
  const connect = (): void => {
    worker = spawn();
    const mine = worker;
    current = connectEngine(worker as Port<EngineMessage, EngineRequest>, {
      ...(options.cancelGraceMs !== undefined && { cancelGraceMs: options.cancelGraceMs }),
      onUnresponsive: () => {
        if (worker !== mine) return;
        mine.terminate();
        restarts++;
        connect();
        // The new worker starts on the backend the page chose; a failure shows on the next call.
        if (preference !== null) void current.init(preference).catch(() => undefined);
      },
    });
  };
  connect();
  const engine = new Proxy({} as Engine, {
    get(_target, method: keyof Engine) {
      if (method === 'init') {
        return (p: BackendPreference) => {
          preference = p;
          return current.init(p);
        };
      }
      const fn = current[method] as unknown;
      if (typeof fn !== 'function') return fn;
      return (...args: unknown[]) => (current[method] as (...a: unknown[]) => unknown)(...args);
    },
  });
  return {
    engine,
    get worker() {
      return worker;
    },
    get restarts() {
      return restarts;
    },
  };
}
