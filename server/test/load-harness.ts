import path from 'node:path';
import autocannon from 'autocannon';
import { b64, intelJpegs, makeModel } from './helpers';
import { freePort, spawnServer, type ServerProcess } from './server-process';

/** What one load run measured. */
export interface LoadResult {
  connections: number;
  durationS: number;
  requests: number;
  /** Requests per second, averaged over the run. */
  throughput: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  status5xx: number;
}

/**
 * Starts `server/main.ts` as `npm run serve` would, with a model and the rate limit raised
 * (a load generator is one client), and waits until it predicts.
 */
export async function startLoadServer(dir: string): Promise<{ proc: ServerProcess; url: string }> {
  const { runDir } = await makeModel(dir);
  const proc = spawnServer({
    SCENELAB_DATA_DIR: path.join(dir, 'data'),
    SCENELAB_PORT: String(await freePort()),
    SCENELAB_MODEL: runDir,
    SCENELAB_RATE_LIMIT_PREDICT: '1000000',
    SCENELAB_LOG_LEVEL: 'warn',
  });
  const url = await proc.started;
  // Loading the model in the worker thread takes a second alone, much longer on a busy machine.
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const h = (await (await fetch(`${url}/healthz`)).json()) as { prediction: { ready: boolean } };
    if (h.prediction.ready) return { proc, url };
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`model did not load:\n${proc.output()}`);
}

/**
 * Posts one real 150x150 Intel JPEG per request to `/api/predict` from `connections` clients.
 * A warm-up at the same concurrency comes first and is not measured: the very first burst of
 * new connections waits behind JIT compilation and sharp's start-up, which is not the steady
 * state a server runs in (it shows as a p99 of ~3 s when measured cold).
 */
export async function runLoad(url: string, connections: number, durationS: number, warmupS = 2): Promise<LoadResult> {
  const body = JSON.stringify({ instances: [{ data: { b64: b64(intelJpegs('forest', 1)[0]!) } }] });
  const options = { url: `${url}/api/predict`, method: 'POST' as const, headers: { 'content-type': 'application/json' }, body, connections, timeout: 30 };
  if (warmupS > 0) await autocannon({ ...options, duration: warmupS });
  const r = await autocannon({ ...options, duration: durationS });
  return {
    connections,
    durationS,
    requests: r.requests.total,
    throughput: r.requests.total / durationS,
    latencyMs: { p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, max: r.latency.max },
    errors: r.errors,
    timeouts: r.timeouts,
    non2xx: r.non2xx,
    status5xx: r['5xx'],
  };
}

/** A results table, one row per run, plus the throughput ratio against the first (reference) row. */
export function loadTable(results: readonly LoadResult[]): string {
  const head = ['clients', 'seconds', 'requests', 'req/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'errors', 'timeouts', 'non-2xx', '5xx', 'x ref'];
  const ref = results[0]?.throughput ?? 1;
  const rows = results.map((r) => [
    r.connections,
    r.durationS,
    r.requests,
    r.throughput.toFixed(1),
    r.latencyMs.p50,
    r.latencyMs.p90,
    r.latencyMs.p99,
    r.latencyMs.max,
    r.errors,
    r.timeouts,
    r.non2xx,
    r.status5xx,
    (r.throughput / ref).toFixed(2),
  ].map(String));
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padStart(widths[i]!)).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
