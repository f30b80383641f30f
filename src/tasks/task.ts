/** What a task is: dimensions, prior, simulator and (where tractable) its likelihood. */
import type { PriorSpec } from '../priors.js';

export interface DesignVariable {
  name: string;
  default: number;
  description: string;
}

export interface TaskDefinition {
  /** Registry name (sbibm's for the benchmark tasks). */
  name: string;
  description: string;
  thetaDim: number;
  xDim: number;
  prior: PriorSpec;
  /** Name of the built-in native simulator (see NativeSimulator.list()). */
  simulator: string;
  /** Design variables in order (e.g. √s for `weinberg`); empty if none. */
  design: DesignVariable[];
  /** Whether the simulator returns gold (joint log-likelihood, score, log-ratio). */
  gold: boolean;
  /**
   * log p(x | θ) where tractable, row by row: θ [n, thetaDim], x [n, xDim] (float32 or 64),
   * design [designDim] when the task has design variables. Returns [n].
   */
  logLikelihood?: (theta: Float64Array, x: ArrayLike<number>, design?: Float64Array) => Float64Array;
}
