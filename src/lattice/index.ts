/** Lattice field theory (issue 5): φ⁴ and U(1) gauge actions and observables, the HMC baselines. */
export { Phi4Action, hmc, hmcAsync, twoPointSusceptibility, dropBurnIn, freePropagator } from './phi4.js';
export type { Phi4Coupling, HmcOptions, HmcResult, SusceptibilityEstimate } from './phi4.js';
export { integratedAutocorrelation } from './autocorrelation.js';
export type { AutocorrelationResult } from './autocorrelation.js';
export { U1Action, u1GaugeTransform, u1Hmc, u1HmcAsync, u1Exact } from './u1.js';
export type { U1Coupling, U1HmcResult, U1ExactResult } from './u1.js';
export type { HmcAsyncOptions } from './hmc.js';
export { conv2dCircular, conv2dCircularBackward } from './conv.js';
export type { Conv2dShape } from './conv.js';
export { Phi4Flow, trainPhi4Flow, flowMetropolis, trainPhi4FlowFromCli, TUTORIAL_ARCHITECTURE, PHI4_FLOW_KIND } from './flow.js';
export type {
  Phi4FlowArchitecture, FlowSamples, TrainPhi4FlowOptions, TrainPhi4FlowResult, FlowMetropolisOptions, FlowMetropolisResult,
  Phi4FlowCliOptions, U1FlowMetropolisResult,
} from './flow.js';
export { U1Flow, trainU1Flow, trainU1FlowFromCli, U1_TUTORIAL_ARCHITECTURE, U1_FLOW_KIND } from './u1_flow.js';
export type { U1FlowArchitecture, U1FlowSamples, TrainU1FlowOptions, TrainU1FlowResult, U1FlowCliOptions } from './u1_flow.js';
export type { LatticeTrainOptions, LatticeTrainingRecord, LatticeCliOptions, LatticeCliSummary } from './flow_common.js';
