import { afterEach, describe, expect, it } from 'vitest';
import type { StudyProgress } from './study-types';
import type { Engine, Progress, TrainProgress } from './types';
import { DeviceLostError, EngineRestartedError, StorageFullError } from './errors';
import { connectEngine, ENGINE_METHODS, serveEngine, type EngineMessage, type EngineRequest, type Method, type Port } from './protocol';
import { intelFiles, nodeEngine } from './test-support';

const channels: MessageChannel[] = [];
afterEach(() => {
  for (const c of channels.splice(0)) {
    c.port1.close();
    c.port2.close();
  }
});

/** A worker boundary in one process: the engine served on one end of a MessageChannel, proxied on the other. */
function overChannel(engine: Engine): Engine {
  const channel = new MessageChannel();
  channels.push(channel);
  serveEngine(channel.port2 as unknown as Port<EngineRequest, EngineMessage>, engine);
  const client = connectEngine(channel.port1 as unknown as Port<EngineMessage, EngineRequest>);
  channel.port1.start();
  channel.port2.start();
  return client;
}

const notUsed = (): never => {
  throw new Error('not used in this test');
};

/** An engine whose long calls report progress, honour their signal, and fail by name. */
function scriptedEngine(): Engine {
  const base = Object.fromEntries(
    ['init', 'backend', 'listDatasets', 'images', 'resplit', 'deleteDataset', 'importWeights', 'listWeights', 'deleteWeights', 'resume', 'listRuns', 'deleteRun', 'classify', 'listModels', 'importModel', 'deleteModel', 'storage', 'createStudy', 'listStudies', 'getStudy', 'deleteStudy', 'modelFromBestTrial'].map((k) => [k, notUsed]),
  ) as unknown as Engine;
  return {
    ...base,
    importDataset: async (_req, o = {}) => {
      for (let i = 1; i <= 3; i++) o.onProgress?.({ stage: 'import', done: i, total: 3 });
      throw Object.assign(new Error('Storage is full: 3 images was not saved'), { name: 'StorageFullError' });
    },
    evaluate: (_req, o = {}) =>
      new Promise((_resolve, reject) => {
        o.signal?.addEventListener('abort', () => reject(new DOMException('cancelled', 'AbortError')), { once: true });
      }),
    train: async (config, o = {}) => {
      o.onProgress?.({ type: 'run', runId: 'r', resumedFromEpoch: 0 });
      await new Promise<void>((resolve) => o.signal?.addEventListener('abort', () => resolve(), { once: true }));
      o.onProgress?.({ type: 'checkpoint', epoch: 1 });
      return { run: { id: 'r', status: 'cancelled', config } as never, model: null };
    },
    exportModel: async () => Uint8Array.of(1, 2, 3),
    runStudy: async (request, o = {}) => {
      o.onProgress?.({ type: 'resumed', interrupted: [2] });
      o.onProgress?.({ type: 'trial-start', trial: 3, params: { learningRate: 0.01 }, retryOf: 2 });
      await new Promise<void>((resolve) => o.signal?.addEventListener('abort', () => resolve(), { once: true }));
      o.onProgress?.({ type: 'done', reason: 'aborted', trialsRun: 1 });
      return { study: { id: request.studyId } as never, reason: 'aborted', trialsRun: 1 };
    },
  };
}

describe('engine protocol', () => {
  it('forwards progress events to the caller and rebuilds errors by name', async () => {
    const engine = overChannel(scriptedEngine());
    const seen: Progress[] = [];
    const err = await engine.importDataset({ name: 'x', source: { kind: 'files', files: [] } }, { onProgress: (p) => seen.push(p) }).catch((e: Error) => e);
    expect(seen.map((p) => p.done)).toEqual([1, 2, 3]);
    expect(err).toMatchObject({ name: 'StorageFullError', message: expect.stringMatching(/Storage is full/) });
  });

  it('an abort cancels the call in the engine: other calls reject with AbortError, training returns what it has', async () => {
    const engine = overChannel(scriptedEngine());
    const c1 = new AbortController();
    const evaluating = engine.evaluate({ modelId: 'm', datasetId: 'd', split: 'test' }, { signal: c1.signal });
    c1.abort();
    await expect(evaluating).rejects.toMatchObject({ name: 'AbortError' });

    const c2 = new AbortController();
    const events: TrainProgress['type'][] = [];
    const training = engine.train({} as never, {
      signal: c2.signal,
      onProgress: (p) => {
        events.push(p.type);
        if (p.type === 'run') c2.abort();
      },
    });
    await expect(training).resolves.toMatchObject({ run: { status: 'cancelled' }, model: null });
    expect(events).toEqual(['run', 'checkpoint']);
  });

  it("a study's search events cross as study progress, and an abort stops the search", async () => {
    const engine = overChannel(scriptedEngine());
    const stop = new AbortController();
    const events: StudyProgress[] = [];
    const out = await engine.runStudy(
      { studyId: 's' },
      {
        signal: stop.signal,
        onProgress: (e) => {
          events.push(e);
          if (e.type === 'trial-start') stop.abort();
        },
      },
    );
    expect(out).toMatchObject({ study: { id: 's' }, reason: 'aborted', trialsRun: 1 });
    expect(events.map((e) => e.type)).toEqual(['resumed', 'trial-start', 'done']);
    expect(events[1]).toEqual({ type: 'trial-start', trial: 3, params: { learningRate: 0.01 }, retryOf: 2 });
  });

  it('moves result buffers rather than copying them', async () => {
    const engine = overChannel(scriptedEngine());
    expect(Array.from(await engine.exportModel('m'))).toEqual([1, 2, 3]);
  });

  it('drives the in-process engine across the boundary: import, list, classify raw pixels', async () => {
    const local = nodeEngine().engine;
    const engine = overChannel(local);
    await engine.init('wasm');
    const r = await engine.importDataset({ name: 'p', source: { kind: 'files', files: intelFiles(['forest', 'sea'], 2, 0) } });
    expect(r.imported).toBe(4);
    expect((await engine.listDatasets()).map((d) => d.name)).toEqual(['p']);
    const pixels = new Uint8Array(64 * 64 * 3).fill(90);
    await expect(engine.classify({ modelId: 'none', images: [{ width: 64, height: 64, channels: 3, data: pixels }] })).rejects.toThrow(/no longer exists/);
  });

  it('every engine method crosses from the one table, with its arguments and its answer', async () => {
    const seen: Array<[string, unknown[]]> = [];
    const recorder = Object.fromEntries(
      (Object.keys(ENGINE_METHODS) as Method[]).map((m) => [
        m,
        async (...args: unknown[]) => {
          seen.push([m, args.slice(0, ENGINE_METHODS[m].args)]);
          return { answered: m };
        },
      ]),
    ) as unknown as Engine;
    const engine = overChannel(recorder);
    for (const m of Object.keys(ENGINE_METHODS) as Method[]) {
      const args = Array.from({ length: ENGINE_METHODS[m].args }, (_, i) => ({ arg: i, of: m }));
      const call = engine[m] as (...a: unknown[]) => Promise<unknown>;
      await expect(call(...args)).resolves.toEqual({ answered: m });
    }
    expect(seen.map(([m]) => m)).toEqual(Object.keys(ENGINE_METHODS));
    for (const [m, args] of seen) expect(args).toEqual(Array.from({ length: ENGINE_METHODS[m as Method].args }, (_, i) => ({ arg: i, of: m })));
  });

  it('refuses a call that names no engine method', async () => {
    const channel = new MessageChannel();
    channels.push(channel);
    serveEngine(channel.port2 as unknown as Port<EngineRequest, EngineMessage>, scriptedEngine());
    const answer = new Promise<EngineMessage>((resolve) => channel.port1.addEventListener('message', (e: MessageEvent<EngineMessage>) => resolve(e.data), { once: true }));
    channel.port1.start();
    channel.port2.start();
    channel.port1.postMessage({ type: 'call', id: 9, method: 'dropDatabase', args: [] });
    expect(await answer).toEqual({ type: 'error', id: 9, error: { name: 'TypeError', message: 'the engine has no method dropDatabase' } });
  });

  it('rebuilds each named engine error as its own class after the boundary', async () => {
    const failures: Error[] = [new DeviceLostError('adapter gone'), new EngineRestartedError(), new StorageFullError('the model')];
    let next = 0;
    const engine = overChannel({ ...scriptedEngine(), listModels: async () => Promise.reject(failures[next++]!) });
    for (const expected of failures) {
      const got = await engine.listModels().catch((e: unknown) => e);
      expect(got).toBeInstanceOf(expected.constructor);
      expect(got).toMatchObject({ name: expected.name, message: expected.message });
    }
  });
});
