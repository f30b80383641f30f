/**
 * Neural posterior estimation (NPE): a conditional density estimator q(θ | x) trained by maximum
 * likelihood on simulations (θ_i, x_i) with θ_i ~ prior, so that q(θ | x_o) approximates the
 * posterior p(θ | x_o). Papamakarios & Murray, "Fast ε-free inference of simulation models with
 * Bayesian conditional density estimation", NeurIPS 2016, arXiv:1605.06376; with the flows of
 * Papamakarios et al., arXiv:1705.07057 (MAF) and Durkan et al., arXiv:1906.04140 (NSF), trained
 * natively (native/flow_trainer.h) with sbi's defaults. Details: docs/npe.md.
 *
 * Shapes: θ [n, prior.dim], x [n, xDim], row-major.
 */
import { SbiError } from '../errors.js';
import { backendForOp, type Backend, type BackendRequest } from '../backend/backend.js';
import { MAF } from '../flows/maf.js';
import type { NativeMafTrainResult } from '../native.js';
import type { Prior } from '../priors.js';
import { decodeModelFile, encodeModelFile, loadModelFile, saveModelFile } from '../io/model_file.js';
import type { ModelFile } from '../io/model_file.js';
import { deriveSeed, SeedPurpose } from '../seeds.js';
import { checkFiniteArray, checkMatrix, checkPositiveInteger, checkProbability, checkSeed, describe } from '../validate.js';
import {
  architectureOptions, copySummary, flowModelKind, readEstimatorOptions, readFlowModel, SimulationStore, trainConditionalFlow, trainSummary, writeFlowModel,
  zScoredObservation,
} from './flow_estimator.js';
import type { EmbeddingNet } from './embedding.js';
import type { ConditionalDensity, DensityEstimatorKind, FlowArchitecture, FlowEstimatorOptions, FlowModel, FlowModelLayout, FlowTrainOptions, FlowTrainSummary } from './flow_estimator.js';

export type { DensityEstimatorKind } from './flow_estimator.js';
export type { EmbeddingOptions } from './embedding.js';
export type NPEOptions = FlowEstimatorOptions;
export type NPETrainOptions = FlowTrainOptions;
export type NPETrainSummary = FlowTrainSummary;

export interface PosteriorSampleOptions {
  /** The observation [xDim]. */
  x: ArrayLike<number>;
  seed: number | bigint;
  /** Below this acceptance rate (after `minProposals` proposals) sampling gives up. Default 1e-4. */
  minAcceptance?: number;
  /** Proposals drawn before the acceptance rate is judged. Default 100 000. */
  minProposals?: number;
  /** Below this acceptance rate a warning (code SBI_LOW_ACCEPTANCE) is emitted, once per call. Default 0.01. */
  warnAcceptance?: number;
  /** Wall-clock limit: SbiError SAMPLING_TIMEOUT when n samples are not accepted by then. Default 60 000 ms. */
  timeLimitMs?: number;
}

export class NPE {
  readonly prior: Prior;
  readonly densityEstimator: DensityEstimatorKind;
  private readonly architecture: FlowArchitecture;
  private readonly store: SimulationStore;
  private trained: { flow: ConditionalDensity; fit: NativeMafTrainResult; summary: NPETrainSummary; embedding?: EmbeddingNet } | undefined;

  constructor(options: NPEOptions) {
    const o = readEstimatorOptions(options);
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

  /**
   * Adds simulations θ [n, prior.dim] (finite) and x [n, xDim]. Rows whose x holds a non-finite
   * value (failed simulations) are excluded, counted (`excludedSimulations`, `lastAppend`) and
   * never trained on. Returns `this`, so calls chain as in sbi:
   * `await new NPE({ prior }).appendSimulations(theta, x).train({ seed })`.
   */
  appendSimulations(theta: Float64Array, x: Float64Array | Float32Array, xDim?: number): this {
    this.store.append(theta, x, xDim);
    return this;
  }

  /** What the last `appendSimulations` call kept (`added`) and excluded (non-finite x). */
  get lastAppend(): { added: number; excluded: number } {
    return { ...this.store.last };
  }

  /** Trains the density estimator q(θ | x) on every simulation appended so far (from a fresh initialisation). */
  async train(options: NPETrainOptions): Promise<NPETrainSummary> {
    const data = this.store.data('NPE');
    const { flow, fit, embedding } = await trainConditionalFlow(
      data.theta, data.x, { variable: this.prior.dim, context: data.xDim }, this.densityEstimator, this.architecture, options);
    const summary = trainSummary(fit, this.store);
    this.trained = { flow, fit, summary, ...(embedding ? { embedding } : {}) };
    return copySummary(summary);
  }

  /**
   * Writes the trained estimator to `path` (src/io/model_file.ts, kind "NPE/maf" or "NPE/nsf"):
   * prior spec, flow configuration, parameters, z-scoring statistics and training summary. The
   * simulations are not stored. Throws SbiError NOT_TRAINED before training.
   */
  save(path: string): void {
    this.buildPosterior().save(path);
  }

  /**
   * Reads an estimator written by `save` (or `NPEPosterior.save`). Its `buildPosterior()` samples
   * and evaluates bit for bit like the original; it holds no simulations (`train` needs new ones).
   * SbiError: the container's codes for a missing, corrupt or foreign file, WRONG_MODEL_KIND for
   * another kind, INVALID_MODEL_FILE for inconsistent contents.
   */
  static load(path: string): NPE {
    return NPE.fromModel(readFlowModel(NPE_LAYOUT, loadModelFile(path)));
  }

  /** `load` from the bytes of a model file. */
  static decode(bytes: Uint8Array): NPE {
    return NPE.fromModel(readFlowModel(NPE_LAYOUT, decodeModelFile(bytes)));
  }

  private static fromModel(m: FlowModel): NPE {
    const npe = new NPE({
      prior: m.prior, densityEstimator: m.densityEstimator, ...architectureOptions(m.flow),
      ...(m.embedding ? { embedding: { hidden: Array.from(m.embedding.sizes.subarray(1, -1)), outputDim: m.embedding.outputDim } } : {}),
    });
    npe.trained = { flow: m.flow, fit: m.fit, summary: m.summary, ...(m.embedding ? { embedding: m.embedding } : {}) };
    return npe;
  }

  /** The posterior of the last training: q(θ | x) restricted to the prior's support. */
  buildPosterior(): NPEPosterior {
    if (!this.trained) throw new SbiError('NPE is not trained yet; call `await npe.train({ seed })` first', 'NOT_TRAINED');
    return new NPEPosterior(this.prior, this.trained.flow, this.trained.fit, this.trained.summary, this.trained.embedding);
  }
}

/**
 * q(θ | x) of a trained NPE on the original scales:
 *   log q(θ | x) = log q_z((θ − μ_θ) / σ_θ | (x − μ_x) / σ_x) − Σ_d log σ_θ,d,
 * with samples outside the prior's support rejected. logProb is NOT renormalised for the mass
 * q puts outside the support (leakage): it is −Infinity outside and log q inside.
 */
export class NPEPosterior {
  readonly dim: number;
  readonly xDim: number;
  private readonly logStdSum: number;

  /** The training this posterior came from (simulation counts and losses per epoch). */
  readonly summary: NPETrainSummary;

  constructor(
    readonly prior: Prior, private readonly flow: ConditionalDensity, private readonly fit: NativeMafTrainResult, summary?: NPETrainSummary,
    private readonly embedding?: EmbeddingNet,
  ) {
    this.summary = summary ?? {
      epochs: fit.epochs, bestEpoch: fit.bestEpoch, bestValidationLoss: fit.bestValidationLoss, trainLoss: fit.trainLoss,
      validationLoss: fit.validationLoss, simulations: 0, excludedSimulations: 0,
    };
    this.dim = flow.dim;
    this.xDim = embedding ? embedding.inputDim : flow.contextDim;
    this.logStdSum = fit.thetaStd.reduce((s, v) => s + Math.log(v), 0);
  }

  /** n draws θ ~ q(θ | x) inside the prior's support [n, dim] (rejection of the rest). */
  sample(n: number, options: PosteriorSampleOptions): Float64Array {
    const rounds = this.rejectionRounds(n, options);
    const context = this.context(options.x);
    for (let step = rounds.next(); ; ) {
      if (step.done) return step.value;
      step = rounds.next(this.flowSample(step.value.m, context, step.value.seed));
    }
  }

  /**
   * As `sample`, with the flow's draws on `backend` (default 'cpu'): 'webgpu' runs MAF and NSF
   * flows (op flow.maf_sample) and MDNs (op flow.mdn_sample) in WGSL, with the same seeds as the
   * CPU, so the draws agree with `sample`'s within that op's float tolerance. An embedding network
   * embeds the observation there too (op nn.mlp_forward). A backend named explicitly that cannot
   * run this estimator is an UNSUPPORTED_OP error; 'auto' falls back to the CPU. 'cuda' runs both
   * ops through its launchers (kernels/flows/maf.cu, mdn.cu; not yet run on a device).
   */
  async sampleAsync(n: number, options: PosteriorSampleOptions & { backend?: BackendRequest }): Promise<Float64Array> {
    const rounds = this.rejectionRounds(n, options);
    const backend = await this.samplingBackend(options.backend ?? 'cpu');
    const context = await this.contextOn(backend, options.x);
    for (let step = rounds.next(); ; ) {
      if (step.done) return step.value;
      const { m, seed } = step.value;
      const z = backend.name === 'cpu' ? this.flowSample(m, context, seed)
        : this.flow instanceof MAF ? (await backend.mafSample(this.flow, context, m, seed)).theta
          : await backend.mdnSample(this.flow, context, m, seed);
      step = rounds.next(z);
    }
  }

  /** m standardised draws of the flow on the CPU. */
  private flowSample(m: number, context: Float32Array, seed: number | bigint): Float32Array | Float64Array {
    const z = this.flow.sample(m, context, { seed });
    return z;
  }

  /** The backend that draws from this posterior's estimator for `request` (op flow.maf_sample, or flow.mdn_sample for an MDN). */
  private async samplingBackend(request: BackendRequest): Promise<Backend> {
    return backendForOp(request, this.flow instanceof MAF ? 'flow.maf_sample' : 'flow.mdn_sample');
  }

  /**
   * The rejection loop of `sample` / `sampleAsync`: yields each round's proposal count m and
   * flow seed and takes the flow's m standardised draws z [m, dim] back; returns the accepted θ.
   * Rounds, seeds and acceptance are the same whoever draws z.
   */
  private *rejectionRounds(n: number, options: PosteriorSampleOptions): Generator<{ m: number; seed: bigint | number }, Float64Array, Float32Array | Float64Array> {
    checkPositiveInteger(n, 'n', 2 ** 31);
    if (typeof options !== 'object' || options === null) throw new TypeError(`Expected an options object with \`x\` and \`seed\` but received ${describe(options)}`);
    const seed = deriveSeed(checkSeed(options.seed), SeedPurpose.sampling);
    const minAcceptance = options.minAcceptance === undefined ? 1e-4 : checkProbability(options.minAcceptance, 'minAcceptance');
    const minProposals = options.minProposals === undefined ? 100_000 : checkPositiveInteger(options.minProposals, 'minProposals');
    const warnAcceptance = options.warnAcceptance === undefined ? 0.01 : checkProbability(options.warnAcceptance, 'warnAcceptance');
    const timeLimitMs = options.timeLimitMs ?? 60_000;
    if (typeof timeLimitMs !== 'number' || !(timeLimitMs >= 0)) {
      throw new RangeError(`Expected a non-negative number of milliseconds (or Infinity) for \`timeLimitMs\` but received ${describe(timeLimitMs)}`);
    }
    const D = this.dim;
    const out = new Float64Array(n * D);
    const start = performance.now();
    let accepted = 0;
    let proposed = 0;
    // Proposals inside the support, also those beyond the n-th: the acceptance rate's numerator.
    let inside = 0;
    let warned = false;
    for (let round = 0; accepted < n; round++) {
      const rate = proposed === 0 ? 1 : Math.max(inside / proposed, minAcceptance);
      const m = Math.min(Math.max(Math.ceil((1.2 * (n - accepted)) / rate), 256), 1 << 20);
      const z = yield { m, seed: deriveSeed(seed, round) };
      const theta = new Float64Array(m * D);
      for (let i = 0; i < m; i++) {
        for (let d = 0; d < D; d++) theta[i * D + d] = this.fit.thetaMean[d]! + this.fit.thetaStd[d]! * z[i * D + d]!;
      }
      const inSupport = this.prior.inSupport(theta);
      for (let i = 0; i < m; i++) {
        if (!inSupport[i]) continue;
        inside++;
        if (accepted < n) out.set(theta.subarray(i * D, (i + 1) * D), D * accepted++);
      }
      proposed += m;
      const percent = ((100 * inside) / proposed).toPrecision(2);
      if (!warned && inside / proposed < warnAcceptance) {
        warned = true;
        process.emitWarning(
          `Only ${inside} of ${proposed} posterior samples (${percent} %) fell inside the prior's support: the estimator puts most of ` +
            'its mass outside the prior (leakage), so sampling is slow and the posterior may be poor. Train with more simulations.',
          { code: 'SBI_LOW_ACCEPTANCE' },
        );
      }
      if (accepted < n && proposed >= minProposals && inside / proposed < minAcceptance) {
        throw new SbiError(
          `Only ${inside} of ${proposed} posterior samples (${percent} %) fell inside the prior's support, ` +
            `below minAcceptance = ${minAcceptance}: the estimator puts almost all its mass outside the prior (leakage). ` +
            'Train with more simulations, or check that x matches the simulations.',
          'LOW_ACCEPTANCE',
        );
      }
      if (accepted < n && performance.now() - start >= timeLimitMs) {
        throw new SbiError(
          `Posterior sampling stopped after timeLimitMs = ${timeLimitMs}: ${accepted} of the ${n} samples requested were accepted ` +
            `(${inside} of ${proposed} proposals, ${percent} %, inside the prior's support). Raise \`timeLimitMs\`, or train with more simulations.`,
          'SAMPLING_TIMEOUT',
        );
      }
    }
    return out;
  }

  /** log q(θ | x) per row of θ [n, dim]; −Infinity outside the prior's support (not renormalised). */
  logProb(theta: Float64Array, options: { x: ArrayLike<number> }): Float64Array {
    const n = checkMatrix(theta, this.dim, 'theta');
    checkFiniteArray(theta, 'theta', this.dim);
    if (typeof options !== 'object' || options === null) throw new TypeError(`Expected an options object with \`x\` but received ${describe(options)}`);
    const context = this.context(options.x);
    const z: Float32Array = new Float32Array(theta.length);
    for (let i = 0; i < n; i++) {
      for (let d = 0; d < this.dim; d++) z[i * this.dim + d] = (theta[i * this.dim + d]! - this.fit.thetaMean[d]!) / this.fit.thetaStd[d]!;
    }
    const lq = this.flow.logProb(z, context);
    const inside = this.prior.inSupport(theta);
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = inside[i] ? lq[i]! - this.logStdSum : -Infinity;
    return out;
  }

  /**
   * As `logProb`, with the flow's log q on `backend` (default 'cpu'): 'webgpu' evaluates MAF and
   * NSF flows (op flow.maf_log_prob) and MDNs (op flow.mdn_log_prob) in f32, so the values agree
   * with `logProb`'s within that op's tolerance. An embedding network embeds x once on the CPU (as
   * `sampleAsync`); the rows go to the device in chunks of 2^16. A backend named explicitly that
   * cannot run this estimator is UNSUPPORTED_OP; 'auto' falls back to the CPU.
   */
  async logProbAsync(theta: Float64Array, options: { x: ArrayLike<number>; backend?: BackendRequest }): Promise<Float64Array> {
    const n = checkMatrix(theta, this.dim, 'theta');
    checkFiniteArray(theta, 'theta', this.dim);
    if (typeof options !== 'object' || options === null) throw new TypeError(`Expected an options object with \`x\` but received ${describe(options)}`);
    const backend = await backendForOp(options.backend ?? 'cpu', this.flow instanceof MAF ? 'flow.maf_log_prob' : 'flow.mdn_log_prob');
    if (backend.name === 'cpu') return this.logProb(theta, options);
    const context = this.context(options.x);
    const D = this.dim;
    const inside = this.prior.inSupport(theta);
    const out = new Float64Array(n);
    for (let first = 0; first < n; first += LOG_PROB_CHUNK) {
      const rows = Math.min(LOG_PROB_CHUNK, n - first);
      const z = new Float32Array(rows * D);
      for (let i = 0; i < rows; i++) {
        for (let d = 0; d < D; d++) z[i * D + d] = (theta[(first + i) * D + d]! - this.fit.thetaMean[d]!) / this.fit.thetaStd[d]!;
      }
      const lq = this.flow instanceof MAF ? await backend.mafLogProb(this.flow, z, context) : await backend.mdnLogProb(this.flow, z, context);
      for (let i = 0; i < rows; i++) out[first + i] = inside[first + i] ? lq[i]! - this.logStdSum : -Infinity;
    }
    return out;
  }

  /** "NPE/maf" or "NPE/nsf": the model file kind `save` writes. */
  get kind(): string {
    return flowModelKind(NPE_LAYOUT, this.flow);
  }

  /** The model file contents `save` writes (see NPE.save). */
  toModelFile(): ModelFile {
    return writeFlowModel(NPE_LAYOUT, {
      prior: this.prior, flow: this.flow, fit: this.fit, summary: this.summary, ...(this.embedding ? { embedding: this.embedding } : {}),
    });
  }

  /** The bytes `save` writes. */
  encode(): Uint8Array {
    return encodeModelFile(this.toModelFile());
  }

  /** Writes this posterior's estimator to `path`; `NPEPosterior.load` or `NPE.load` read it. */
  save(path: string): void {
    saveModelFile(path, this.toModelFile());
  }

  /** Reads a posterior written by `save` (errors as NPE.load). */
  static load(path: string): NPEPosterior {
    return NPEPosterior.fromModelFile(loadModelFile(path));
  }

  static decode(bytes: Uint8Array): NPEPosterior {
    return NPEPosterior.fromModelFile(decodeModelFile(bytes));
  }

  /** Builds the posterior from decoded model file contents, checking that they are consistent. */
  static fromModelFile(file: ModelFile): NPEPosterior {
    const m = readFlowModel(NPE_LAYOUT, file);
    return new NPEPosterior(m.prior, m.flow, m.fit, m.summary, m.embedding);
  }

  /** `context(x)` with the embedding network (if any) evaluated on `backend` (op nn.mlp_forward). */
  private async contextOn(backend: Backend, x: unknown): Promise<Float32Array> {
    if (!this.embedding || backend.name === 'cpu' || backend.supportsOp('nn.mlp_forward') !== true) return this.context(x);
    const z = zScoredObservation(x, this.xDim, this.fit.xMean, this.fit.xStd);
    return backend.mlpForward({ sizes: Array.from(this.embedding.sizes), activation: 'relu' }, this.embedding.params, z, 1);
  }

  /** The observation z-scored like the training x (and embedded, with an embedding network), as the flow's broadcast context. */
  private context(x: unknown): Float32Array {
    const z = zScoredObservation(x, this.xDim, this.fit.xMean, this.fit.xStd);
    return this.embedding ? this.embedding.apply(z, 1) : z;
  }
}

/** Rows per device call of `logProbAsync` (bounds its buffers: 2^16 rows × 50 hidden units is 13 MB a layer). */
const LOG_PROB_CHUNK = 1 << 16;

/** NPE's model file: kinds "NPE/maf" and "NPE/nsf", layout version in metadata.npeFileVersion. */
const NPE_LAYOUT: FlowModelLayout = { label: 'NPE', kinds: { maf: 'NPE/maf', nsf: 'NPE/nsf', mdn: 'NPE/mdn' }, versionKey: 'npeFileVersion', version: 1, embeddingVersion: 2, variable: 'theta' };
