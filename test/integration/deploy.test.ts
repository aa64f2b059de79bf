import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../cli/main';
import { GcsEmulator } from '../emulators/gcs-emulator';
import { VertexEmulator } from '../emulators/vertex-emulator';
import { cleanup, makeModel, tempDir } from '../../server/test/helpers';

/** Runs the CLI in-process and captures what it prints. */
async function cli(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => ((stdout += String(chunk)), true));
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => ((stderr += String(chunk)), true));
  try {
    const code = await main(argv);
    return { code, stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

describe('scenelab deploy against ModelService/EndpointService and Cloud Storage emulators', () => {
  let dir: string;
  let vertex: VertexEmulator;
  let gcs: GcsEmulator;
  let runDir: string;
  let base: string[];

  beforeAll(async () => {
    dir = tempDir('deploy');
    vertex = await VertexEmulator.start();
    gcs = await GcsEmulator.start('scenelab-models');
    ({ runDir } = await makeModel(dir));
    base = [
      'deploy',
      '--model',
      runDir,
      '--project',
      'scenelab-test',
      '--region',
      'europe-west4',
      '--bucket',
      'gs://scenelab-models',
      '--image',
      'europe-west4-docker.pkg.dev/scenelab-test/scenelab/server:1',
      '--vertex-api-endpoint',
      vertex.address,
      '--gcs-api-endpoint',
      gcs.endpoint,
    ];
  });
  afterAll(async () => {
    await vertex.stop();
    await gcs.stop();
    await cleanup(dir);
  });
  beforeEach(() => {
    vertex.calls.length = 0;
  });

  it('uploads the artifacts, uploads the model with the container, creates an endpoint and deploys to it', async () => {
    const r = await cli([...base, '--name', 'intel-v1', '--max-replicas', '2', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout) as { artifactUri: string; model: string; endpoint: string; deployedModelId: string; env: Record<string, string> };

    // 1. Artifacts, byte for byte, where AIP_STORAGE_URI will point.
    for (const name of ['model.json', 'weights.bin', 'labels.json', 'preprocessing.json', 'metrics.json']) {
      const o = gcs.objects.get(`models/intel-v1/${name}`);
      expect(o, name).toBeDefined();
      expect(o!.bytes.equals(await readFile(path.join(runDir, name)))).toBe(true);
      expect(o!.contentType).toBe(name.endsWith('.bin') ? 'application/octet-stream' : 'application/json');
    }
    expect(result.artifactUri).toBe('gs://scenelab-models/models/intel-v1');

    // 2-4. The exact requests, in order.
    expect(vertex.calls.map((c) => c.method)).toEqual(['UploadModel', 'CreateEndpoint', 'DeployModel']);
    const [upload, create, deploy] = vertex.calls as [(typeof vertex.calls)[0], (typeof vertex.calls)[0], (typeof vertex.calls)[0]];
    expect(upload.request).toMatchObject({
      parent: 'projects/scenelab-test/locations/europe-west4',
      model: {
        displayName: 'intel-v1',
        artifactUri: 'gs://scenelab-models/models/intel-v1',
        containerSpec: {
          imageUri: 'europe-west4-docker.pkg.dev/scenelab-test/scenelab/server:1',
          predictRoute: '/predict',
          healthRoute: '/health',
          ports: [{ containerPort: 8080 }],
        },
      },
    });
    expect(upload.metadata['x-goog-request-params']).toBe(`parent=${encodeURIComponent('projects/scenelab-test/locations/europe-west4')}`);
    expect(create.request).toMatchObject({ parent: 'projects/scenelab-test/locations/europe-west4', endpoint: { displayName: 'intel-v1' } });
    expect(deploy.request).toMatchObject({
      endpoint: result.endpoint,
      deployedModel: {
        model: result.model,
        displayName: 'intel-v1',
        dedicatedResources: { machineSpec: { machineType: 'n1-standard-2' }, minReplicaCount: 1, maxReplicaCount: 2 },
      },
      trafficSplit: { '0': 100 },
    });
    expect(result.model).toMatch(/^projects\/scenelab-test\/locations\/europe-west4\/models\/\d+$/);
    expect(result.endpoint).toMatch(/^projects\/scenelab-test\/locations\/europe-west4\/endpoints\/\d+$/);
    expect(result.deployedModelId).toMatch(/^\d+$/);
    expect(result.env).toEqual({ SCENELAB_VERTEX_PROJECT: 'scenelab-test', SCENELAB_VERTEX_REGION: 'europe-west4', SCENELAB_VERTEX_ENDPOINT_ID: result.endpoint.split('/').pop() });
  });

  it('deploys to an existing endpoint without creating one, and prints the server settings', async () => {
    const r = await cli([...base, '--name', 'intel-v2', '--endpoint', '777', '--machine-type', 'n1-standard-4']);
    expect(r.code).toBe(0);
    expect(vertex.calls.map((c) => c.method)).toEqual(['UploadModel', 'DeployModel']);
    expect(vertex.calls[1]!.request).toMatchObject({ endpoint: 'projects/scenelab-test/locations/europe-west4/endpoints/777', deployedModel: { dedicatedResources: { machineSpec: { machineType: 'n1-standard-4' } } } });
    expect(r.stdout).toMatch(/SCENELAB_VERTEX_ENDPOINT_ID=777/);
    expect(r.stderr).toMatch(/uploaded gs:\/\/scenelab-models\/models\/intel-v2\/model\.json/);
  });

  it('never overwrites an earlier upload of the same name', async () => {
    const r = await cli([...base, '--name', 'intel-v1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^scenelab deploy: gs:\/\/scenelab-models\/models\/intel-v1\/\S+ already exists: choose another --name/);
    expect(vertex.calls).toHaveLength(0);
  });

  it('refuses incomplete or malformed options with a usage error', async () => {
    const noImage = await cli(base.filter((_, i) => i < 9));
    expect(noImage.code).toBe(2);
    expect(noImage.stderr).toMatch(/--image is required/);
    const badRegion = await cli([...base, '--region', 'moon']);
    expect(badRegion.code).toBe(2);
    expect(badRegion.stderr).toMatch(/--region moon: expected a region/);
    expect(vertex.calls).toHaveLength(0);
  });
});
