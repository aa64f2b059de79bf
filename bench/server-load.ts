// Load benchmark of the SceneLab server on loopback: `npx tsx bench/server-load.ts [seconds] [clients]`.
// Starts `server/main.ts` with a small SqueezeNet, posts a real 150x150 Intel JPEG per request
// to /api/predict, and prints a table: one client (the reference) against many concurrent
// clients, whose requests the server micro-batches.
import { cleanup, tempDir } from '../server/test/helpers';
import { loadTable, runLoad, startLoadServer, type LoadResult } from '../server/test/load-harness';

const seconds = Number(process.argv[2] ?? 20);
const clients = Number(process.argv[3] ?? 50);
const dir = tempDir('bench-load');
const { proc, url } = await startLoadServer(dir);
try {
  const results: LoadResult[] = [];
  results.push(await runLoad(url, 1, Math.max(5, Math.round(seconds / 4))));
  results.push(await runLoad(url, clients, seconds));
  process.stdout.write(`SceneLab server, /api/predict, embedded predictor (tfjs wasm), loopback\n${loadTable(results)}\n`);
} finally {
  await proc.stop();
  await cleanup(dir);
}
