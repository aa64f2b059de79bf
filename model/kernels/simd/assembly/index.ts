// SceneLab's own WebAssembly SIMD kernels, compiled by scripts/build-kernels.mjs and run on the
// memory of tfjs's wasm backend (imported, never copied). No allocation, no static data.
export { convFilterGrad } from './conv-filter-grad';
export { maxPoolGrad } from './pool-grad';
export { copyRows, sumRows } from './copy';
