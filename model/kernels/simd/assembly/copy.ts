// Strided block copies: SplitV and Concat along any axis are `outer` rows of a contiguous run
// each, read at one stride and written at another.

const F = 4;

/** Copies `rows` runs of `run` floats from src (row stride srcStride floats) to dst (dstStride). */
export function copyRows(src: usize, srcStride: i32, dst: usize, dstStride: i32, rows: i32, run: i32): void {
  const bytes = <usize>run * F;
  const s = <usize>srcStride * F;
  const d = <usize>dstStride * F;
  for (let r = 0; r < rows; r++) {
    memory.copy(dst, src, bytes);
    src += s;
    dst += d;
  }
}

/** out[j] = Σ_r x[r, j] for a rows x cols matrix: the sum over every axis but the last. */
export function sumRows(x: usize, out: usize, rows: i32, cols: i32): void {
  const cols4 = cols & ~3;
  const stride = <usize>cols * F;
  let j = 0;
  for (; j < cols4; j += 4) {
    let p = x + <usize>j * F;
    let acc = f32x4.splat(0);
    for (let r = 0; r < rows; r++) {
      acc = f32x4.add(acc, v128.load(p));
      p += stride;
    }
    v128.store(out + <usize>j * F, acc);
  }
  for (; j < cols; j++) {
    let p = x + <usize>j * F;
    let acc: f32 = 0;
    for (let r = 0; r < rows; r++) {
      acc += load<f32>(p);
      p += stride;
    }
    store<f32>(out + <usize>j * F, acc);
  }
}
