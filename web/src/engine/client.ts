/**
 * The page's handle on the engine: a Worker created the Vite way, wrapped by the protocol
 * into an `Engine`. The UI only ever sees the `Engine` interface.
 */
import type { Engine } from '../../../model/engine/engine';
import { connectEngine, type EngineMessage, type EngineRequest, type Port } from './protocol';

export function startEngineWorker(): { engine: Engine; worker: Worker } {
  const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module', name: 'scenelab-engine' });
  return { engine: connectEngine(worker as Port<EngineMessage, EngineRequest>), worker };
}
