/**
 * Neural likelihood estimation (NLE): a conditional flow q(x | θ) trained by maximum likelihood on
 * simulations (θ_i, x_i), then the posterior p(θ | x_o) ∝ q(x_o | θ) p(θ) sampled by MCMC.
 * Papamakarios, Sterratt, Murray, "Sequential neural likelihood: fast likelihood-free inference
 * with autoregressive flows", AISTATS 2019, arXiv:1805.07226. The flow and its native training
 * are NPE's (src/inference/flow_estimator.ts) with the roles swapped: variable x, context θ,
 * both z-scored. Details: docs/nle.md.
 *
 * Shapes: θ [n, prior.dim], x [n, xDim], row-major.
 */
import { SbiError } from '../errors.js';
import { backendForOp, type Backend, type BackendRequest } from '../backend/backend.js';
import { MAF } from '../flows/maf.js';
import { decodeModelFile, encodeModelFile, loadModelFile, saveModelFile } from '../io/model_file.js';
import type { ModelFile } from '../io/model_file.js';
import type { NativeMafTrainResult } from '../native.js';
import type { Prior } from '../priors.js';
import { checkFiniteArray, checkMatrix, checkNumberArray, describe } from '../validate.js';
import {
  architectureOptions, copySummary, flowModelKind, readEstimatorOptions, readFlowModel, SimulationStore, trainConditionalFlow, trainSummary, writeFlowModel,
  zScoredObservation,
} from './flow_estimator.js';
import type { ConditionalDensity, DensityEstimatorKind, FlowArchitecture, FlowEstimatorOptions, FlowModel, FlowModelLayout, FlowTrainOptions, FlowTrainSummary } from './flow_estimator.js';
import { MCMCPosterior, type MCMCSampleOptions, type PotentialFunction } from './mcmc_posterior.js';
import { runRounds, type RoundInfo, type SimulatorFunction } from './sequential.js';

export type NLEOptions = FlowEstimatorOptions;
export type NLETrainOptions = FlowTrainOptions;
/** As NPE's; the losses are mean −log q(x | θ). */
export type NLETrainSummary = FlowTrainSummary;

/** NLE's model file: kinds "NLE/maf" and "NLE/nsf"; the flow models x given θ. */
const NLE_LAYOUT: FlowModelLayout = { label: 'NLE', kinds: { maf: 'NLE/maf', nsf: 'NLE/nsf', mdn: 'NLE/mdn' }, versionKey: 'nleFileVersion', version: 1, variable: 'x' };

export class NLE {
  readonly prior: Prior;
  readonly densityEstimator: DensityEstimatorKind;
  private readonly architecture: FlowArchitecture;
  private readonly store: SimulationStore;
  private trained: { flow: ConditionalDensity; fit: NativeMafTrainResult; summary: NLETrainSummary } | undefined;

  constructor(options: NLEOptions) {
    const o = readEstimatorOptions(options);
    if (o.architecture.embedding !== undefined) {
      throw new TypeError('NLE takes no `embedding` (it models x given θ; embedding networks are for NPE)');
    }
    this.prior = o.prior;
    this.densityEstimator = o.densityEstimator;
    this.architecture = o.architecture;
    this.store = new SimulationStore(this.prior.dim);
  }

  /** Simulations appended so far that will be trained on. */
  get simulations(): number {
    return this.store.kept;
  }

  /** Simulations excluded because a value of their x was NaN or ±Infinity. */
  get excludedSimulations(): number {
    return this.store.excluded;
  }

  /** Adds θ [n, prior.dim] and x [n, xDim]; rows with a non-finite x are excluded and counted (as NPE). Returns `this`. */
  appendSimulations(theta: Float64Array, x: Float64Array | Float32Array, xDim?: number): this {
    this.store.append(theta, x, xDim);
    return this;
  }

  /** What the last `appendSimulations` call kept (`added`) and excluded (non-finite x). */
  get lastAppend(): { added: number; excluded: number } {
    return { ...this.store.last };
  }

  /** Trains q(x | θ) on every simulation appended so far (from a fresh initialisation). */
  async train(options: NLETrainOptions): Promise<NLETrainSummary> {
    const data = this.store.data('NLE');
    const { flow, fit } = await trainConditionalFlow(
      data.x, data.theta, { variable: data.xDim, context: this.prior.dim }, this.densityEstimator, this.architecture, options);
    const summary = trainSummary(fit, this.store);
    this.trained = { flow, fit, summary };
    return copySummary(summary);
  }

  /** The MCMC posterior p(θ | x) ∝ q(x | θ) p(θ) of the last training. */
  buildPosterior(): NLEPosterior {
    if (!this.trained) throw new SbiError('NLE is not trained yet; call `await nle.train({ seed })` first', 'NOT_TRAINED');
    return new NLEPosterior(this.prior, this.trained.flow, this.trained.fit, this.trained.summary);
  }

  /** Writes the trained estimator (kind "NLE/maf" or "NLE/nsf"); NOT_TRAINED before training. */
  save(path: string): void {
    this.buildPosterior().save(path);
  }

  /** Reads an estimator written by `save`; errors as NPE.load. */
  static load(path: string): NLE {
    return NLE.fromModel(readFlowModel(NLE_LAYOUT, loadModelFile(path)));
  }

  static decode(bytes: Uint8Array): NLE {
    return NLE.fromModel(readFlowModel(NLE_LAYOUT, decodeModelFile(bytes)));
  }

  private static fromModel(m: FlowModel): NLE {
    const nle = new NLE({
      prior: m.prior, densityEstimator: m.densityEstimator, ...architectureOptions(m.flow),
    });
    nle.trained = { flow: m.flow, fit: m.fit, summary: m.summary };
    return nle;
  }
}

/**
 * The flow's inputs for many θ and one x: the variable is x (z-scored) repeated per row, the
 * context the z-scored θ. fit.theta* are the statistics of the flow's variable (x), fit.x* of its
 * context (θ).
 */
function flowInputs(flow: ConditionalDensity, fit: NativeMafTrainResult, theta: Float64Array, rows: number, x: Float64Array) {
  const xDim = flow.dim;
  const thetaDim = flow.contextDim;
  const xz = zScoredObservation(x, xDim, fit.thetaMean, fit.thetaStd);
  const variable = new Float32Array(rows * xDim);
  for (let i = 0; i < rows; i++) variable.set(xz, i * xDim);
  const context = new Float32Array(rows * thetaDim);
  for (let i = 0; i < rows; i++) {
    for (let d = 0; d < thetaDim; d++) context[i * thetaDim + d] = (theta[i * thetaDim + d]! - fit.xMean[d]!) / fit.xStd[d]!;
  }
  return { variable, context };
}

/**
 * log q(x | θ) on the original scales, for many θ and one x, so every MCMC step of every chain
 * is ONE native flow call:
 *   log q(x | θ) = log q_z((x − μ_x) / σ_x | (θ − μ_θ) / σ_θ) − Σ_j log σ_x,j
 */
function likelihoodPotential(flow: ConditionalDensity, fit: NativeMafTrainResult): (theta: Float64Array, rows: number, x: Float64Array) => Float64Array {
  const logStdSum = fit.thetaStd.reduce((s, v) => s + Math.log(v), 0);
  return (theta, rows, x) => {
    const { variable, context } = flowInputs(flow, fit, theta, rows, x);
    return Float64Array.from(flow.logProb(variable, context), (v) => v - logStdSum);
  };
}

/**
 * As likelihoodPotential, with the estimator's log q on `backend` (op flow.maf_log_prob, or
 * flow.mdn_log_prob for an MDN): one device call per MCMC step.
 */
function deviceLikelihoodPotential(flow: ConditionalDensity, fit: NativeMafTrainResult, backend: Backend): PotentialFunction {
  const logStdSum = fit.thetaStd.reduce((s, v) => s + Math.log(v), 0);
  return async (theta, rows, x) => {
    const { variable, context } = flowInputs(flow, fit, theta, rows, x);
    const lq = flow instanceof MAF ? await backend.mafLogProb(flow, variable, context) : await backend.mdnLogProb(flow, variable, context);
    return Float64Array.from(lq, (v) => v - logStdSum);
  };
}

/** The NLE posterior: an MCMCPosterior with potential log q(x | θ), which can also be saved. */
export class NLEPosterior extends MCMCPosterior {
  /** The training this posterior came from. */
  readonly summary: NLETrainSummary;
  private readonly flow: ConditionalDensity;
  private readonly fit: NativeMafTrainResult;
  private readonly likelihood: (theta: Float64Array, rows: number, x: Float64Array) => Float64Array;

  constructor(prior: Prior, flow: ConditionalDensity, fit: NativeMafTrainResult, summary: NLETrainSummary) {
    const likelihood = likelihoodPotential(flow, fit);
    super(prior, flow.dim, likelihood);
    this.flow = flow;
    this.fit = fit;
    this.summary = summary;
    this.likelihood = likelihood;
  }

  /**
   * The potential on `request`'s backend: the estimator's log q on the device (op
   * flow.maf_log_prob for a MAF / NSF, flow.mdn_log_prob for an MDN). A backend named explicitly
   * that lacks the op is UNSUPPORTED_OP; 'auto' falls back to the cpu.
   */
  protected override async potentialOn(request: BackendRequest): Promise<PotentialFunction> {
    if (request === 'cpu') return this.likelihood;
    const backend = await backendForOp(request, this.flow instanceof MAF ? 'flow.maf_log_prob' : 'flow.mdn_log_prob');
    return backend.name === 'cpu' ? this.likelihood : deviceLikelihoodPotential(this.flow, this.fit, backend);
  }

  /** log q(x | θ) per row of θ [n, dim] at the observation x (no prior term). */
  logLikelihood(theta: Float64Array, options: { x: ArrayLike<number> }): Float64Array {
    const n = checkMatrix(theta, this.dim, 'theta');
    checkFiniteArray(theta, 'theta', this.dim);
    if (typeof options !== 'object' || options === null) throw new TypeError(`Expected an options object with \`x\` but received ${describe(options)}`);
    return this.likelihood(theta, n, this.observation(options.x));
  }

  /** "NLE/maf" or "NLE/nsf". */
  get kind(): string {
    return flowModelKind(NLE_LAYOUT, this.flow);
  }

  toModelFile(): ModelFile {
    return writeFlowModel(NLE_LAYOUT, { prior: this.prior, flow: this.flow, fit: this.fit, summary: this.summary });
  }

  encode(): Uint8Array {
    return encodeModelFile(this.toModelFile());
  }

  save(path: string): void {
    saveModelFile(path, this.toModelFile());
  }

  static load(path: string): NLEPosterior {
    return NLEPosterior.fromModelFile(loadModelFile(path));
  }

  static decode(bytes: Uint8Array): NLEPosterior {
    return NLEPosterior.fromModelFile(decodeModelFile(bytes));
  }

  static fromModelFile(file: ModelFile): NLEPosterior {
    const m = readFlowModel(NLE_LAYOUT, file);
    return new NLEPosterior(m.prior, m.flow, m.fit, m.summary);
  }
}

export interface SNLEOptions extends NLEOptions {
  simulator: SimulatorFunction;
}

export interface SNLERunOptions {
  /** The observation x_o [xDim]. */
  x: ArrayLike<number>;
  rounds: number;
  /** Simulations of every round, or one count per round. */
  simulationsPerRound: number | readonly number[];
  seed: number | bigint;
  /** Training settings of every round (seed excluded: each round derives its own). */
  train?: Omit<NLETrainOptions, 'seed' | 'signal'>;
  /** MCMC settings of the proposals of rounds ≥ 2 (x, seed and signal excluded). */
  mcmc?: Omit<MCMCSampleOptions, 'x' | 'seed' | 'signal'>;
  onRound?: (info: RoundInfo<NLEPosterior>) => void | Promise<void>;
  signal?: AbortSignal;
}

/**
 * Sequential NLE (SNLE, arXiv:1805.07226): round 1 simulates θ from the prior; round r > 1 from
 * the MCMC posterior of round r − 1 at x_o; every round retrains q(x | θ) on all simulations.
 * The likelihood estimator needs no correction for the proposal (q(x | θ) is a conditional of θ).
 */
export class SNLE {
  readonly nle: NLE;
  private readonly simulator: SimulatorFunction;

  constructor(options: SNLEOptions) {
    this.nle = new NLE(options);
    if (typeof options.simulator !== 'function') {
      throw new TypeError(`Expected a function (theta, rows, seed) => x for \`simulator\` but received ${describe(options.simulator)}`);
    }
    this.simulator = options.simulator;
  }

  /** Runs the rounds; returns the last round's posterior. */
  async run(options: SNLERunOptions): Promise<NLEPosterior> {
    if (typeof options !== 'object' || options === null) throw new TypeError(`Expected an options object with \`x\`, \`rounds\`, \`simulationsPerRound\` and \`seed\` but received ${describe(options)}`);
    const x = checkNumberArray(options.x, 'x');
    return runRounds<NLEPosterior>({
      prior: this.nle.prior,
      simulator: this.simulator,
      rounds: options.rounds,
      simulationsPerRound: options.simulationsPerRound,
      seed: options.seed,
      proposal: async (_round, n, seed, previous) => (await previous.sample(n, {
        ...options.mcmc, x, seed, ...(options.signal ? { signal: options.signal } : {}),
      })).samples,
      append: (theta, xs) => this.nle.appendSimulations(theta, xs, x.length).lastAppend,
      train: (_round, seed) => this.nle.train({ ...options.train, seed, ...(options.signal ? { signal: options.signal } : {}) }),
      build: () => this.nle.buildPosterior(),
      ...(options.onRound ? { onRound: options.onRound } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }
}
