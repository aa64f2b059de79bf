// dW of a 2-D convolution (NHWC input, HWIO filter): dW[kh,kw,i,o] = Σ x[n,iy,ix,i]·dy[n,oy,ox,o]
// over every output pixel whose window puts tap (kh,kw) on (iy,ix). For one tap and one output
// row the pixels that fall inside the input are a contiguous run, so each (tap, row) is a small
// matrix product Aᵀ·B with A = x's run (pixel stride sw·Cin) and B = dy's run (stride Cout),
// accumulated into the tap's [Cin, Cout] block: no im2col, no transposes, the layouts as they are.
// 1x1 stride-1 unpadded convolutions (most of SqueezeNet) are one run over all pixels.

const F = 4; // bytes per f32

@inline function ld(p: usize): v128 {
  return v128.load(p);
}

@inline function bc(p: usize): v128 {
  return f32x4.splat(load<f32>(p));
}

/** acc[i0..i0+4, o0..o0+8] += Σ_r a[r, i]·b[r, o] for r < rows. */
@inline function block4x8(dw: usize, cout: i32, a: usize, aStride: usize, b: usize, bStride: usize, rows: i32): void {
  const row = <usize>cout * F;
  let c00 = ld(dw), c01 = ld(dw + 16);
  let c10 = ld(dw + row), c11 = ld(dw + row + 16);
  let c20 = ld(dw + 2 * row), c21 = ld(dw + 2 * row + 16);
  let c30 = ld(dw + 3 * row), c31 = ld(dw + 3 * row + 16);
  for (let r = 0; r < rows; r++) {
    const b0 = ld(b), b1 = ld(b + 16);
    let s = bc(a);
    c00 = f32x4.add(c00, f32x4.mul(s, b0)); c01 = f32x4.add(c01, f32x4.mul(s, b1));
    s = bc(a + 4);
    c10 = f32x4.add(c10, f32x4.mul(s, b0)); c11 = f32x4.add(c11, f32x4.mul(s, b1));
    s = bc(a + 8);
    c20 = f32x4.add(c20, f32x4.mul(s, b0)); c21 = f32x4.add(c21, f32x4.mul(s, b1));
    s = bc(a + 12);
    c30 = f32x4.add(c30, f32x4.mul(s, b0)); c31 = f32x4.add(c31, f32x4.mul(s, b1));
    a += aStride;
    b += bStride;
  }
  v128.store(dw, c00); v128.store(dw + 16, c01);
  v128.store(dw + row, c10); v128.store(dw + row + 16, c11);
  v128.store(dw + 2 * row, c20); v128.store(dw + 2 * row + 16, c21);
  v128.store(dw + 3 * row, c30); v128.store(dw + 3 * row + 16, c31);
}

/** acc[i0..i0+4, o0..o0+4] += Σ_r a[r, i]·b[r, o]. */
@inline function block4x4(dw: usize, cout: i32, a: usize, aStride: usize, b: usize, bStride: usize, rows: i32): void {
  const row = <usize>cout * F;
  let c0 = ld(dw), c1 = ld(dw + row), c2 = ld(dw + 2 * row), c3 = ld(dw + 3 * row);
  for (let r = 0; r < rows; r++) {
    const b0 = ld(b);
    c0 = f32x4.add(c0, f32x4.mul(bc(a), b0));
    c1 = f32x4.add(c1, f32x4.mul(bc(a + 4), b0));
    c2 = f32x4.add(c2, f32x4.mul(bc(a + 8), b0));
    c3 = f32x4.add(c3, f32x4.mul(bc(a + 12), b0));
    a += aStride;
    b += bStride;
  }
  v128.store(dw, c0); v128.store(dw + row, c1); v128.store(dw + 2 * row, c2); v128.store(dw + 3 * row, c3);
}

/** Four input channels against one output channel: the vector runs along the input channels. */
@inline function block4x1(dw: usize, cout: i32, a: usize, aStride: usize, b: usize, bStride: usize, rows: i32): void {
  let c = f32x4.splat(0);
  for (let r = 0; r < rows; r++) {
    c = f32x4.add(c, f32x4.mul(ld(a), f32x4.splat(load<f32>(b))));
    a += aStride;
    b += bStride;
  }
  const row = <usize>cout * F;
  store<f32>(dw, load<f32>(dw) + f32x4.extract_lane(c, 0));
  store<f32>(dw + row, load<f32>(dw + row) + f32x4.extract_lane(c, 1));
  store<f32>(dw + 2 * row, load<f32>(dw + 2 * row) + f32x4.extract_lane(c, 2));
  store<f32>(dw + 3 * row, load<f32>(dw + 3 * row) + f32x4.extract_lane(c, 3));
}

/** One input channel against 4 output channels. */
@inline function block1x4(dw: usize, a: usize, aStride: usize, b: usize, bStride: usize, rows: i32): void {
  let c = ld(dw);
  for (let r = 0; r < rows; r++) {
    c = f32x4.add(c, f32x4.mul(bc(a), ld(b)));
    a += aStride;
    b += bStride;
  }
  v128.store(dw, c);
}

/** One input channel against one output channel. */
@inline function block1x1(dw: usize, a: usize, aStride: usize, b: usize, bStride: usize, rows: i32): void {
  let c = load<f32>(dw);
  for (let r = 0; r < rows; r++) {
    c += load<f32>(a) * load<f32>(b);
    a += aStride;
    b += bStride;
  }
  store<f32>(dw, c);
}

/** tap[i, o] += Σ_r a[r, i]·b[r, o]: A is rows x cin (pixel stride aStride bytes), B rows x cout. */
function accumulate(tap: usize, a: usize, aStride: usize, b: usize, bStride: usize, rows: i32, cin: i32, cout: i32): void {
  const cin4 = cin & ~3;
  const cout8 = cout & ~7;
  const cout4 = cout & ~3;
  let i = 0;
  for (; i < cin4; i += 4) {
    const ai = a + <usize>i * F;
    const di = tap + <usize>(i * cout) * F;
    let o = 0;
    for (; o < cout8; o += 8) block4x8(di + <usize>o * F, cout, ai, aStride, b + <usize>o * F, bStride, rows);
    for (; o < cout4; o += 4) block4x4(di + <usize>o * F, cout, ai, aStride, b + <usize>o * F, bStride, rows);
    for (; o < cout; o++) block4x1(di + <usize>o * F, cout, ai, aStride, b + <usize>o * F, bStride, rows);
  }
  for (; i < cin; i++) {
    const ai = a + <usize>i * F;
    const di = tap + <usize>(i * cout) * F;
    let o = 0;
    for (; o < cout4; o += 4) block1x4(di + <usize>o * F, ai, aStride, b + <usize>o * F, bStride, rows);
    for (; o < cout; o++) block1x1(di + <usize>o * F, ai, aStride, b + <usize>o * F, bStride, rows);
  }
}

/** Rows per chunk of a long run, so a chunk of A and B stays in cache across the blocks. */
const CHUNK = 128;

function ceilDiv(a: i32, b: i32): i32 {
  return a >= 0 ? (a + b - 1) / b : -((-a) / b);
}

function floorDiv(a: i32, b: i32): i32 {
  return a >= 0 ? a / b : -((-a + b - 1) / b);
}

/**
 * dw (kh x kw x cin x cout, overwritten) of a convolution of x (n x h x w x cin) giving dy
 * (n x oh x ow x cout) with strides sh, sw and top/left padding padT, padL. Pointers are byte
 * offsets into the shared memory.
 */
export function convFilterGrad(
  x: usize, dy: usize, dw: usize,
  n: i32, h: i32, w: i32, cin: i32,
  oh: i32, ow: i32, cout: i32,
  kh: i32, kw: i32, sh: i32, sw: i32, padT: i32, padL: i32,
): void {
  memory.fill(dw, 0, <usize>(kh * kw * cin * cout) * F);
  const xRow = <usize>cin * F;
  const dyRow = <usize>cout * F;
  if (kh == 1 && kw == 1 && sh == 1 && sw == 1 && padT == 0 && padL == 0 && oh == h && ow == w) {
    const total = n * h * w;
    for (let r = 0; r < total; r += CHUNK) {
      const rows = min(CHUNK, total - r);
      accumulate(dw, x + <usize>r * xRow, xRow, dy + <usize>r * dyRow, dyRow, rows, cin, cout);
    }
    return;
  }
  for (let ky = 0; ky < kh; ky++) {
    for (let kx = 0; kx < kw; kx++) {
      const tap = dw + <usize>((ky * kw + kx) * cin * cout) * F;
      const oxLo = max(0, ceilDiv(padL - kx, sw));
      const oxHi = min(ow - 1, floorDiv(w - 1 + padL - kx, sw));
      if (oxLo > oxHi) continue;
      const rows = oxHi - oxLo + 1;
      const ixLo = oxLo * sw - padL + kx;
      for (let b = 0; b < n; b++) {
        for (let oy = 0; oy < oh; oy++) {
          const iy = oy * sh - padT + ky;
          if (iy < 0 || iy >= h) continue;
          const a = x + <usize>(((b * h + iy) * w + ixLo) * cin) * F;
          const d = dy + <usize>(((b * oh + oy) * ow + oxLo) * cout) * F;
          accumulate(tap, a, xRow * <usize>sw, d, dyRow, rows, cin, cout);
        }
      }
    }
  }
}
