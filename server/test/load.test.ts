import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, tempDir } from './helpers';
import { loadTable, runLoad, startLoadServer } from './load-harness';
import type { ServerProcess } from './server-process';

describe('load on loopback: /api/predict with the embedded predictor', () => {
  let dir: string;
  let proc: ServerProcess;
  let url: string;

  beforeAll(async () => {
    dir = tempDir('load');
    ({ proc, url } = await startLoadServer(dir));
  });
  afterAll(async () => {
    await proc.stop();
    await cleanup(dir);
  });

  it('serves 50 concurrent clients for 20 s with no errors and no 5xx', async () => {
    const result = await runLoad(url, 50, 20);
    console.log(`server load test (real 150x150 JPEG, SqueezeNet 1.1, tfjs wasm, 1 image per request):\n${loadTable([result])}`);
    expect(result.requests).toBeGreaterThan(50);
    expect(result.errors).toBe(0);
    expect(result.timeouts).toBe(0);
    expect(result.status5xx).toBe(0);
    expect(result.non2xx).toBe(0);
    // Still healthy and answering afterwards.
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  });
});
