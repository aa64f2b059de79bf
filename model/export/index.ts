/**
 * Exports of a trained model to other runtimes: ONNX (onnxruntime, TensorRT, OpenVINO, …)
 * and a TorchServe model archive. Both are byte arrays, for the caller to save or send.
 */
export { exportOnnx, ONNX_INPUT, ONNX_METADATA, ONNX_OUTPUT, ONNX_OPSET } from './onnx';
export { exportMar, MAR_ARCHIVER_VERSION, type MarManifest, type MarOptions } from './torchserve/mar';
