/**
 * Exports of a trained model to other runtimes: ONNX (onnxruntime, TensorRT, OpenVINO, …),
 * a TorchServe model archive, and a TorchScript archive for `torch.jit.load`. Each is a byte
 * array, for the caller to save or send.
 */
export { exportOnnx, ONNX_INPUT, ONNX_METADATA, ONNX_OUTPUT, ONNX_OPSET } from './onnx';
export { exportMar, MAR_ARCHIVER_VERSION, type MarManifest, type MarOptions } from './torchserve/mar';
export { exportTorchScript, TORCHSCRIPT_EXTRA_FILES } from './torchscript';
export { exportAs, EXPORT_FORMATS, isExportFormat, type ExportFormat } from './formats';
