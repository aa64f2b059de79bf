/** Element types a state_dict tensor may carry once read from a `.pth` file. */
export type TensorDType = 'float32' | 'float64' | 'float16' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

/**
 * A plain, backend-free tensor: row-major data plus its PyTorch shape.
 * Floating types are widened to Float32Array; int64 values are narrowed to numbers
 * (state_dicts only hold small integers such as `num_batches_tracked`).
 */
export interface TensorData {
  shape: number[];
  dtype: TensorDType;
  data: Float32Array | Int32Array | Uint8Array;
}

/** An ordered `name -> tensor` mapping, as `model.state_dict()` gives in PyTorch. */
export type StateDict = Map<string, TensorData>;

/** Number of elements for a shape. */
export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
