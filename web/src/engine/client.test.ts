import { describe, expect, it } from 'vitest';
import { EngineRestartedError } from './errors';
import type { EngineMessage, EngineRequest } from './protocol';
import { startEngineWorker } from './client';

/** A stand-in Worker: records what it is sent; answers only what the test tells it to. */
class FakeWorker {
  sent: EngineRequest[] = [];
  terminated = false;
  private listeners: Array<(e: { data: EngineMessage }) => void> = [];
  constructor(private readonly answer: (req: EngineRequest) => EngineMessage | null) {}
  postMessage(req: EngineRequest): void {
    this.sent.push(req);
    const reply = this.answer(req);
    if (reply) queueMicrotask(() => this.listeners.forEach((l) => l({ data: reply })));
  }
  addEventListener(_type: 'message', l: (e: { data: EngineMessage }) => void): void {
    this.listeners.push(l);
  }
  terminate(): void {
    this.terminated = true;
  }
}

const backendInfo = { name: 'wasm', adapter: null, simd: true, threads: false, attempts: [] } as const;

describe('engine worker watchdog', () => {
  it('replaces a worker that ignores a cancel, fails what was pending, and sets the new one up like the old', async () => {
    const workers: FakeWorker[] = [];
    const { engine, restarts: before } = startEngineWorker({
      cancelGraceMs: 20,
      spawn: () => {
        // The first worker answers init, then hangs on everything else; later ones answer.
        const first = workers.length === 0;
        const w = new FakeWorker((req) => {
          if (req.type === 'call' && req.method === 'init') return { type: 'result', id: req.id, method: 'init', value: backendInfo };
          if (!first && req.type === 'call' && req.method === 'listRuns') return { type: 'result', id: req.id, method: 'listRuns', value: [] };
          return null;
        });
        workers.push(w);
        return w as unknown as Worker;
      },
    });
    expect(before).toBe(0);
    await engine.init('wasm');
    const controller = new AbortController();
    const stuck = engine.classify({ images: [] } as never, { signal: controller.signal });
    const bystander = engine.listRuns();
    controller.abort();
    await expect(stuck).rejects.toMatchObject({ name: 'AbortError' });
    await expect(bystander).rejects.toBeInstanceOf(EngineRestartedError);
    expect(workers).toHaveLength(2);
    expect(workers[0]!.terminated).toBe(true);
    expect(workers[0]!.sent.map((r) => (r.type === 'call' ? r.method : r.type))).toEqual(['init', 'classify', 'listRuns', 'cancel']);
    // The new worker was initialised with the preference the page chose, and serves calls.
    expect(workers[1]!.sent[0]).toMatchObject({ type: 'call', method: 'init', args: ['wasm'] });
    await expect(engine.listRuns()).resolves.toEqual([]);
  });

  it('leaves a worker alone when it answers the cancel in time', async () => {
    const workers: FakeWorker[] = [];
    const { engine } = startEngineWorker({
      cancelGraceMs: 50,
      spawn: () => {
        let pendingClassify = -1;
        const w = new FakeWorker((req) => {
          if (req.type === 'call' && req.method === 'classify') pendingClassify = req.id;
          if (req.type === 'cancel' && req.id === pendingClassify) return { type: 'error', id: req.id, error: { name: 'AbortError', message: 'cancelled' } };
          return null;
        });
        workers.push(w);
        return w as unknown as Worker;
      },
    });
    const controller = new AbortController();
    const call = engine.classify({ images: [] } as never, { signal: controller.signal });
    controller.abort();
    await expect(call).rejects.toMatchObject({ name: 'AbortError' });
    await new Promise((r) => setTimeout(r, 100));
    expect(workers).toHaveLength(1);
    expect(workers[0]!.terminated).toBe(false);
  });
});
