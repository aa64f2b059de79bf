// Max-pool backward without a scatter of positions: for each output pixel, four channels at a
// time, find which window tap held the (first) maximum, then add dy to exactly that input.
// Ties go to the first tap in row-major order, as tfjs's cpu backend and PyTorch pick them.

const F = 4;

/**
 * dx (n x h x w x c, overwritten) of a max pool of x with a kh x kw window, strides sh, sw and
 * top/left padding padT, padL (padding never wins), given dy (n x oh x ow x c).
 */
export function maxPoolGrad(
  x: usize, dy: usize, dx: usize,
  n: i32, h: i32, w: i32, c: i32, oh: i32, ow: i32,
  kh: i32, kw: i32, sh: i32, sw: i32, padT: i32, padL: i32,
): void {
  memory.fill(dx, 0, <usize>(n * h * w * c) * F);
  const c4 = c & ~3;
  const pixel = <usize>c * F;
  for (let b = 0; b < n; b++) {
    const xImage = x + <usize>(b * h * w) * pixel;
    const dxImage = dx + <usize>(b * h * w) * pixel;
    for (let oy = 0; oy < oh; oy++) {
      const y0 = max(0, oy * sh - padT);
      const y1 = min(h, oy * sh - padT + kh);
      for (let ox = 0; ox < ow; ox++) {
        const x0 = max(0, ox * sw - padL);
        const x1 = min(w, ox * sw - padL + kw);
        const g = dy + <usize>(((b * oh + oy) * ow + ox) * c) * F;
        let ch = 0;
        for (; ch < c4; ch += 4) {
          const off = <usize>ch * F;
          let best = f32x4.splat(-Infinity);
          let where = i32x4.splat(-1);
          for (let y = y0; y < y1; y++) {
            for (let xx = x0; xx < x1; xx++) {
              const p = <usize>(y * w + xx);
              const v = v128.load(xImage + p * pixel + off);
              const gt = f32x4.gt(v, best);
              best = v128.bitselect(v, best, gt);
              where = v128.bitselect(i32x4.splat(<i32>p), where, gt);
            }
          }
          const grad = v128.load(g + off);
          for (let y = y0; y < y1; y++) {
            for (let xx = x0; xx < x1; xx++) {
              const p = <usize>(y * w + xx);
              const hit = i32x4.eq(where, i32x4.splat(<i32>p));
              if (!v128.any_true(hit)) continue;
              const at = dxImage + p * pixel + off;
              v128.store(at, f32x4.add(v128.load(at), v128.and(grad, hit)));
            }
          }
        }
        for (; ch < c; ch++) {
          const off = <usize>ch * F;
          let best: f32 = -Infinity;
          let where: i32 = -1;
          for (let y = y0; y < y1; y++) {
            for (let xx = x0; xx < x1; xx++) {
              const p = y * w + xx;
              const v = load<f32>(xImage + <usize>p * pixel + off);
              if (v > best) { best = v; where = p; }
            }
          }
          if (where >= 0) {
            const at = dxImage + <usize>where * pixel + off;
            store<f32>(at, load<f32>(at) + load<f32>(g + off));
          }
        }
      }
    }
  }
}
