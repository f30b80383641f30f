/**
 * sbi-engine: simulation-based inference on native kernels.
 *
 * θ and gold values are Float64Array, simulated x is Float32Array; matrices are row-major
 * [n, dim]. Every random number comes from Philox4x32-10 keyed by (seed, stream, counter):
 * row i of a batch uses stream streamOffset + i, so results never depend on threads.
 */
export { SbiError } from './errors.js';
export { runtimeInfo, setThreads, setIsa } from './runtime.js';
export type { RuntimeInfo, IsaPath } from './runtime.js';
export { sample, sampleAsync, philox4x32, eventSize, gaussianScaleTril } from './random.js';
export type { Distribution, SampleOptions, SampleAsyncOptions } from './random.js';
export { createPrior } from './priors.js';
export type { Prior, PriorSpec, PriorSampleOptions } from './priors.js';
export * from './simulators/index.js';
export {
  getTask,
  listTasks,
  simulateFromPrior,
  hasReferenceData,
  referenceObservation,
  referenceParameters,
  referencePosteriorSamples,
  REFERENCE_OBSERVATIONS,
} from './tasks/index.js';
export type { Task, TaskDefinition, DesignVariable } from './tasks/index.js';
export { deriveSeed, SeedPurpose } from './seeds.js';
export { parseCsv, readCsvFile, writeCsv } from './csv.js';
export type { Table, Columns } from './csv.js';
export * as physics from './physics/index.js';
export { sliceSample, initChains } from './inference/mcmc.js';
export type { BatchLogDensity, SliceSamplerOptions, SliceSamplerResult, InitChainsOptions } from './inference/mcmc.js';
export { effectiveSampleSize, splitRhat } from './diagnostics/mcmc.js';
export type { ChainDraws } from './diagnostics/mcmc.js';
export { encodeModelFile, decodeModelFile, saveModelFile, loadModelFile, FORMAT_VERSION } from './io/model_file.js';
export type { ModelFile, Tensor, TensorArray } from './io/model_file.js';
export * as flows from './flows/transforms.js';
export * as manifold from './manifold/index.js';
export { c2st, mmd } from './diagnostics/c2st.js';
export type { C2stOptions } from './diagnostics/c2st.js';
export { sbc, expectedCoverage, coverageFromRanks } from './diagnostics/calibration.js';
export type {
  CalibrationPosterior, CalibrationOptions, SbcOptions, CoverageOptions, SbcResult, CoverageResult, RankUniformity, PosteriorDraws,
} from './diagnostics/calibration.js';
export { chiSquareSurvival, gammaP, gammaQ, logGamma } from './special.js';
export { MCMCPosterior } from './inference/mcmc_posterior.js';
export type { PotentialFunction, MCMCSampleOptions, MCMCSampleResult } from './inference/mcmc_posterior.js';
export { METHODS, SEQUENTIAL_METHODS, SBIBM_DENSITY_ESTIMATORS, runMethod, trainMethod, implementedMethods } from './inference/methods.js';
export type { MethodName, RunMethodOptions, MethodRunResult, TrainedMethod, MethodPosterior } from './inference/methods.js';
export { formatProgress, ProgressLine } from './progress.js';
export type { ProgressEvent, ProgressPhase, ProgressCallback } from './progress.js';
export { MAF } from './flows/maf.js';
export { NPE, NPEPosterior } from './inference/npe.js';
export type { NPEOptions, NPETrainOptions, NPETrainSummary, PosteriorSampleOptions, DensityEstimatorKind } from './inference/npe.js';
export { SNPE, densityThreshold, sampleTruncatedPrior } from './inference/snpe.js';
export type { SNPEOptions, SNPERunOptions, Truncation } from './inference/snpe.js';
export { NLE, NLEPosterior, SNLE } from './inference/nle.js';
export type { NLEOptions, NLETrainOptions, NLETrainSummary, SNLEOptions, SNLERunOptions } from './inference/nle.js';
export { NRE, NRE_A, NRE_B, NRE_C, BNRE, SNRE, RatioEstimator } from './inference/nre.js';
export type { NREVariant, NREOptions, NRETrainOptions, NRETrainSummary, SNREOptions, SNRERunOptions, SNRERoundSummary } from './inference/nre.js';
export { runRounds, taskSimulator } from './inference/sequential.js';
export type { SimulatorFunction, RoundInfo, RunRoundsOptions } from './inference/sequential.js';
export type { MAFConfig, MAFTransform, MAFActivation, MAFInitOptions } from './flows/maf.js';

// Trellis: exact inference over hierarchical clusterings, and the Ginkgo jet simulator.
export { simulateGinkgo, simulateGinkgoAsync, GINKGO_PRESETS } from './trellis/ginkgo.js';
export type { GinkgoModel, GinkgoRoot, GinkgoSimulateOptions, GinkgoJet, GinkgoGold, GinkgoBatch } from './trellis/ginkgo.js';
export {
  runTrellis, runTrellisAsync, beamSearch, greedyClustering, splitEnergies, hierarchyLogLikelihood, clusterMarginals,
  TRELLIS_MAX_LEAVES,
} from './trellis/trellis.js';
export type { TrellisModel, GaussianLinkageModel, Leaves, TrellisOptions, TrellisAsyncOptions, TrellisResult } from './trellis/trellis.js';
export { splitsToTree, treeToSplits, treeKey, type NestedTree } from './trellis/hierarchy.js';
export { lambdaGridPosterior, type LambdaGridOptions, type LambdaGridResult } from './trellis/lambda.js';
export { runTrellisWebGpu, type TrellisWebGpuOptions, type TrellisWebGpuResult } from './trellis/webgpu.js';

// Lattice field theory: φ⁴ action, HMC baseline, autocorrelation times (docs/lattice.md).
export * from './lattice/index.js';

// Compute backends and their op table (docs/backends.md).
export {
  OPS,
  OP_NAMES,
  BACKEND_NAMES,
  selectBackend,
  backendForOp,
  cpuBackend,
  type Backend,
  type BackendName,
  type BackendRequest,
  type OpName,
  type OpSpec,
  type Tolerance,
} from './backend/backend.js';
export { isDeviceArray, type ArrayInput, type DeviceArray } from './backend/device_array.js';
export { WebGpuMlp, type MlpSpec, type MlpBatch, type MlpLoss, type MlpTrainOptions } from './backend/nn_webgpu.js';
export { mafLogProbWebGpu, mafSampleWebGpu } from './backend/flow_webgpu.js';
export { trainMafWebGpu, mafTrainStepsWebGpu, type MafBatch, type MafStepOptions, type MafTrainWebGpuOptions } from './backend/flow_train_webgpu.js';
export { mdnLogProbWebGpu, mdnSampleWebGpu } from './backend/mdn_webgpu.js';
export { trainMdnWebGpu, mdnTrainStepsWebGpu, type MdnBatch } from './backend/mdn_train_webgpu.js';
export { openWebGpu, closeWebGpu, type WebGpuContext } from './backend/webgpu.js';
