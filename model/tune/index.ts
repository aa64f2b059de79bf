/**
 * Hyperparameter search for SceneLab runs: search spaces, studies that persist and resume,
 * random and TPE samplers, median and successive-halving pruners, the analyses the app plots,
 * and the loop that runs it all. Pure TypeScript: the same code runs in Node and in a worker.
 */
export * from './distributions';
export * from './study';
export * from './study-file';
export * from './budget';
export { RandomSampler, sampleUniform, trialRng } from './random-sampler';
export { DEFAULT_PARZEN_OPTIONS, ParzenEstimator, defaultWeights, type ParzenEstimatorOptions } from './parzen-estimator';
export { DEFAULT_TPE_OPTIONS, TpeSampler, defaultGamma, splitTrials, type TpeSamplerOptions } from './tpe-sampler';
export * from './pruners';
export * from './analysis';
export * from './importance';
export * from './runner';
export * from './scenelab-space';
export * from './run-objective';
