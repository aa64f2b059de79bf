/// <reference lib="webworker" />
/** The engine worker: an in-process engine served over the protocol. Kept this short on purpose. */
import { browserEngine } from './browser-engine';
import { serveEngine, type EngineMessage, type EngineRequest, type Port } from './protocol';

serveEngine(self as unknown as Port<EngineRequest, EngineMessage>, browserEngine());
