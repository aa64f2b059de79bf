import { initNodeBackend, type NodeBackendName } from '../../node/backend';

/** Tests run on the same backend setup as the CLI (wasm, gradients registered). */
export async function useBackend(name: NodeBackendName = 'wasm'): Promise<void> {
  await initNodeBackend(name);
}
