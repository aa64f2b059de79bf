import type { ClassifierModel } from '../../model';
import { ARCH_NETWORKS } from '../arch';
import { GraphBuilder } from './graph-builder';
import { encodeModel, type OnnxModel } from './onnx-proto';

/** Names of the graph's input and output, and of the metadata keys SceneLab writes. */
export const ONNX_INPUT = 'input';
export const ONNX_OUTPUT = 'logits';
export const ONNX_METADATA = {
  arch: 'scenelab.arch',
  labels: 'scenelab.labels',
  preprocessing: 'scenelab.preprocessing',
} as const;

/**
 * Opset 14 is the first with HardSwish (MobileNetV3's activation); IR version 7 is the one it
 * was released with (onnx 1.9), so any runtime that knows the opset reads the file.
 */
export const ONNX_OPSET = 14;
export const ONNX_IR_VERSION = 7;

/**
 * The model as an ONNX ModelProto: input `input` float32 NCHW `[batch, 3, H, W]`, already
 * preprocessed (see the `scenelab.preprocessing` metadata), output `logits` `[batch, classes]`.
 * The batch dimension is symbolic; H and W are the preprocessing spec's input size.
 */
export async function exportOnnx(model: ClassifierModel): Promise<Uint8Array> {
  const g = new GraphBuilder(await model.stateDict());
  const out = ARCH_NETWORKS[model.archName](g, ONNX_INPUT);
  g.rename(out, ONNX_OUTPUT);
  const [h, w] = model.preprocessing.inputSize;
  const proto: OnnxModel = {
    irVersion: ONNX_IR_VERSION,
    opsetVersion: ONNX_OPSET,
    producerName: 'SceneLab',
    producerVersion: '1',
    docString: `torchvision ${model.archName} image classifier (${model.numClasses} classes) exported by SceneLab`,
    graph: {
      name: model.archName,
      nodes: g.nodes,
      initializers: g.initializers,
      inputs: [{ name: ONNX_INPUT, shape: ['batch', 3, h, w], docString: 'images preprocessed as scenelab.preprocessing says, NCHW' }],
      outputs: [{ name: ONNX_OUTPUT, shape: ['batch', model.numClasses], docString: 'class scores before softmax, in scenelab.labels order' }],
    },
    metadata: new Map([
      [ONNX_METADATA.arch, model.archName],
      [ONNX_METADATA.labels, JSON.stringify(model.labels)],
      [ONNX_METADATA.preprocessing, JSON.stringify(model.preprocessing)],
    ]),
  };
  return encodeModel(proto);
}
