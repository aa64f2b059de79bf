/**
 * The benchmark page: runs the measurements in a worker (as the app trains), and samples the
 * memory of the page and its workers while they run (`measureUserAgentSpecificMemory`, which
 * needs cross-origin isolation), keeping the peak. The result lands on `window.benchResult`.
 */
import type { BenchReply, BenchRequest } from './protocol';

interface MemoryMeasurement {
  bytes: number;
}
type MeasuringPerformance = Performance & { measureUserAgentSpecificMemory?: () => Promise<MemoryMeasurement> };

const status = document.getElementById('status')!;
const q = new URLSearchParams(location.search);
const request: BenchRequest = {
  params: {
    arch: q.get('arch') ?? 'squeezenet1_1',
    size: Number(q.get('size') ?? 150),
    trainBatch: Number(q.get('trainBatch') ?? 32),
    inferBatch: Number(q.get('inferBatch') ?? 64),
    repeats: Number(q.get('repeats') ?? 5),
  },
  threads: Number(q.get('threads') ?? 1),
};

let peakBytes = 0;
const perf = performance as MeasuringPerformance;
async function sampleMemory(): Promise<void> {
  if (!perf.measureUserAgentSpecificMemory) return;
  const m = await perf.measureUserAgentSpecificMemory();
  peakBytes = Math.max(peakBytes, m.bytes);
}

async function run(): Promise<Record<string, unknown>> {
  if (!crossOriginIsolated) throw new Error('the page is not cross-origin isolated: no SharedArrayBuffer, no wasm threads');
  const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      await sampleMemory().catch(() => {});
      await new Promise((r) => setTimeout(r, 1000));
    }
  })();
  const reply = await new Promise<BenchReply>((resolve) => {
    worker.onmessage = (e: MessageEvent<BenchReply>) => resolve(e.data);
    worker.onerror = (e) => resolve({ ok: false, error: e.message });
    worker.postMessage(request);
  });
  await sampleMemory().catch(() => {});
  sampling = false;
  await sampler;
  worker.terminate();
  if (!reply.ok) throw new Error(reply.error);
  return {
    contender: 'scenelab-chromium',
    version: `tfjs ${reply.tfjs} ${reply.backend}${reply.simd ? '+simd' : ''}${reply.threads ? '+threads' : ''}, ${navigator.userAgent.match(/Chrome\/[\d.]+/)?.[0] ?? 'Chromium'}`,
    threads: reply.times.trainThreads,
    ...reply.times,
    peakMemoryMiB: peakBytes / 1024 / 1024,
  };
}

const w = window as unknown as { benchResult?: Record<string, unknown> | { error: string } };
run().then(
  (result) => {
    w.benchResult = result;
    status.textContent = 'done';
  },
  (e: unknown) => {
    w.benchResult = { error: e instanceof Error ? e.message : String(e) };
    status.textContent = 'failed';
  },
);
