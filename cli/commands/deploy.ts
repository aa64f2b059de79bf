import { EndpointServiceClient, ModelServiceClient } from '@google-cloud/aiplatform';
import { Storage } from '@google-cloud/storage';
import { readModelJson } from '../../model/artifacts';
import { endpointName, vertexClientOptions } from '../../node/google-cloud';
import { UsageError } from '../errors';
import { numberOption, parse } from '../args';
import { readModelFiles } from '../../node/model-store';

const HELP = `scenelab deploy — serve a model on Vertex AI with the SceneLab serving container

  scenelab deploy --model RUN_DIR|BUNDLE --project PROJECT --region REGION --bucket BUCKET --image IMAGE_URI [options]

  --model RUN_DIR|BUNDLE   the trained model
  --project, --region      where the Vertex AI model and endpoint live (e.g. my-project, europe-west4)
  --bucket BUCKET          Cloud Storage bucket for the artifacts (uploaded to models/NAME/, never overwritten)
  --image IMAGE_URI        the container built from server/Dockerfile, pushed to Artifact Registry
  --name NAME              display name and folder name (default: scenelab-ARCH-TIMESTAMP)
  --endpoint ID            deploy to this existing endpoint instead of creating one
  --machine-type TYPE      default n1-standard-2
  --min-replicas N         default 1
  --max-replicas N         default 1
  --json                   print the result as one JSON object
  --vertex-api-endpoint URL, --gcs-api-endpoint URL
                           other API endpoints (http://host:port for local emulators)

Steps: upload the model files to gs://BUCKET/models/NAME/, ModelService.UploadModel with the
container (predict route /predict, health route /health, port 8080), EndpointService.CreateEndpoint
unless --endpoint, then DeployModel with 100% of the traffic. Credentials: Application Default
Credentials (gcloud auth application-default login, or GOOGLE_APPLICATION_CREDENTIALS).`;

/** Content types of the files of a model directory. */
const typeOf = (name: string): string => (name.endsWith('.json') ? 'application/json' : name.endsWith('.svg') ? 'image/svg+xml' : 'application/octet-stream');

/** What a deployment made, for `--json` and for tests. */
export interface DeployResult {
  artifactUri: string;
  model: string;
  endpoint: string;
  deployedModelId: string;
  env: Record<string, string>;
}

export async function deployCommand(argv: string[]): Promise<number> {
  const { values: v } = parse(argv, {
    model: { type: 'string' },
    project: { type: 'string' },
    region: { type: 'string' },
    bucket: { type: 'string' },
    image: { type: 'string' },
    name: { type: 'string' },
    endpoint: { type: 'string' },
    'machine-type': { type: 'string' },
    'min-replicas': { type: 'string' },
    'max-replicas': { type: 'string' },
    'vertex-api-endpoint': { type: 'string' },
    'gcs-api-endpoint': { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (v.help) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  for (const flag of ['model', 'project', 'region', 'bucket', 'image'] as const) {
    if (!v[flag]) throw new UsageError(`--${flag} is required (see scenelab deploy --help)`);
  }
  const project = v.project!;
  const region = v.region!;
  const bucket = v.bucket!.replace(/^gs:\/\//, '').replace(/\/+$/, '');
  if (!/^[a-z]+-[a-z]+\d+$/.test(region)) throw new UsageError(`--region ${region}: expected a region such as europe-west4`);
  if (!/^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/.test(bucket)) throw new UsageError(`--bucket ${v.bucket}: not a bucket name`);
  if (v.endpoint !== undefined && !/^\d+$/.test(v.endpoint)) throw new UsageError(`--endpoint ${v.endpoint}: expected the numeric endpoint id`);
  const minReplicas = numberOption('min-replicas', v['min-replicas'], 1, true);
  const maxReplicas = numberOption('max-replicas', v['max-replicas'], Math.max(1, minReplicas), true);
  if (minReplicas < 1 || maxReplicas < minReplicas) throw new UsageError('--min-replicas must be ≥ 1 and --max-replicas ≥ --min-replicas');

  const files = await readModelFiles(v.model!);
  let manifest;
  try {
    manifest = readModelJson(files);
  } catch (e) {
    throw new UsageError(`--model ${v.model}: ${(e as Error).message}`);
  }
  const name = v.name ?? `scenelab-${manifest.arch.replace(/_/g, '-')}-${new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14)}`;
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(name)) throw new UsageError(`--name ${name}: use letters, digits, ".", "_" and "-"`);
  const log = (line: string): void => {
    if (!v.json) process.stderr.write(`${line}\n`);
  };

  // 1. Artifacts: AIP_STORAGE_URI will point at this folder; never overwrite an earlier upload.
  const storage = new Storage({ projectId: project, ...(v['gcs-api-endpoint'] ? { apiEndpoint: v['gcs-api-endpoint'] } : {}) });
  const folder = `models/${name}`;
  for (const [file, bytes] of files) {
    try {
      await storage
        .bucket(bucket)
        .file(`${folder}/${file}`)
        .save(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length), { resumable: false, contentType: typeOf(file), preconditionOpts: { ifGenerationMatch: 0 } });
    } catch (e) {
      if ((e as { code?: unknown }).code === 412) throw new UsageError(`gs://${bucket}/${folder}/${file} already exists: choose another --name (uploads never overwrite)`);
      throw e;
    }
    log(`uploaded gs://${bucket}/${folder}/${file} (${bytes.length} bytes)`);
  }
  const artifactUri = `gs://${bucket}/${folder}`;
  const parent = `projects/${project}/locations/${region}`;
  const clientOptions = vertexClientOptions(region, v['vertex-api-endpoint']);
  const models = new ModelServiceClient(clientOptions);
  const endpoints = new EndpointServiceClient(clientOptions);
  try {
    // 2. The model: these artifacts served by the SceneLab container.
    const [upload] = await models.uploadModel({
      parent,
      model: {
        displayName: name,
        description: `SceneLab ${manifest.arch}, ${manifest.numClasses} classes: ${manifest.labels.join(', ')}`,
        artifactUri,
        containerSpec: {
          imageUri: v.image!,
          predictRoute: '/predict',
          healthRoute: '/health',
          ports: [{ containerPort: 8080 }],
          env: [{ name: 'SCENELAB_LOG_LEVEL', value: 'info' }],
        },
      },
    });
    const [uploaded] = await upload.promise();
    const model = uploaded.model ?? '';
    if (!model) throw new Error('UploadModel finished without a model name');
    log(`uploaded model ${model}`);

    // 3. The endpoint: the one given, or a new one.
    let endpoint: string;
    if (v.endpoint) endpoint = endpointName(project, region, v.endpoint);
    else {
      const [create] = await endpoints.createEndpoint({ parent, endpoint: { displayName: name } });
      const [created] = await create.promise();
      endpoint = created.name ?? '';
      if (!endpoint) throw new Error('CreateEndpoint finished without an endpoint name');
      log(`created endpoint ${endpoint}`);
    }

    // 4. Deploy with all the traffic; this takes several minutes on Vertex AI.
    log(`deploying (machine ${v['machine-type'] ?? 'n1-standard-2'}, ${minReplicas}-${maxReplicas} replicas); this can take 10-20 minutes…`);
    const [deploy] = await endpoints.deployModel({
      endpoint,
      deployedModel: {
        model,
        displayName: name,
        dedicatedResources: { machineSpec: { machineType: v['machine-type'] ?? 'n1-standard-2' }, minReplicaCount: minReplicas, maxReplicaCount: maxReplicas },
      },
      trafficSplit: { '0': 100 },
    });
    const [deployed] = await deploy.promise();
    const deployedModelId = deployed.deployedModel?.id ?? '';
    const endpointId = endpoint.split('/').pop() ?? '';
    const result: DeployResult = {
      artifactUri,
      model,
      endpoint,
      deployedModelId,
      env: { SCENELAB_VERTEX_PROJECT: project, SCENELAB_VERTEX_REGION: region, SCENELAB_VERTEX_ENDPOINT_ID: endpointId },
    };
    if (v.json) process.stdout.write(JSON.stringify(result) + '\n');
    else {
      process.stdout.write(`deployed ${model} to ${endpoint} (deployed model ${deployedModelId})\n`);
      process.stdout.write(`point the server at it:\n${Object.entries(result.env).map(([k, x]) => `  ${k}=${x}`).join('\n')}\n`);
    }
    return 0;
  } finally {
    await Promise.all([models.close(), endpoints.close()]);
  }
}
