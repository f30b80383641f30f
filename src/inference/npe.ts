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
import { MAF } from '../flows/maf.js';
import type { MAFConfig, MAFTransform } from '../flows/maf.js';
import { native } from '../native.js';
import type { NativeEpochLosses, NativeMafTrainOptions, NativeMafTrainResult } from '../native.js';
import { createPrior } from '../priors.js';
import type { Prior, PriorSpec } from '../priors.js';
import { decodeModelFile, encodeModelFile, loadModelFile, saveModelFile } from '../io/model_file.js';
import type { ModelFile } from '../io/model_file.js';
import { deriveSeed, SeedPurpose } from '../seeds.js';
import { abortError, whileAbortable } from '../simulators/call.js';
import {
  checkFiniteArray, checkMatrix, checkPositive, checkPositiveInteger, checkProbability, checkSeed, checkThreads, describe,
} from '../validate.js';

export type DensityEstimatorKind = 'maf' | 'nsf';

export interface NPEOptions {
  prior: Prior;
  /** 'maf': affine MAF; 'nsf': autoregressive rational-quadratic spline flow (10 bins, bound 3). */
  densityEstimator?: DensityEstimatorKind;
  /** Hidden units per MADE layer (default 50, as sbi). */
  hidden?: number;
  /** Flow layers (default 5, as sbi). */
  layers?: number;
  /** Hidden layers per MADE (default 2). */
  hiddenLayers?: number;
}

/** Training settings: sbi's defaults (batch 200, lr 5e-4, 10 % validation, patience 20, clip 5). */
export interface NPETrainOptions extends NativeMafTrainOptions {
  onEpoch?: (losses: NativeEpochLosses) => void;
  signal?: AbortSignal;
}

export interface NPETrainSummary {
  epochs: number;
  bestEpoch: number;
  /** Mean −log q(θ | x) over the validation rows at the best epoch. */
  bestValidationLoss: number;
  trainLoss: Float64Array;
  validationLoss: Float64Array;
  /** Simulations trained on (training and validation rows) and those excluded as non-finite. */
  simulations: number;
  excludedSimulations: number;
}

export interface PosteriorSampleOptions {
  /** The observation [xDim]. */
  x: ArrayLike<number>;
  seed: number | bigint;
  /** Below this acceptance rate (after `minProposals` proposals) sampling gives up. Default 1e-4. */
  minAcceptance?: number;
  /** Proposals drawn before the acceptance rate is judged. Default 100 000. */
  minProposals?: number;
}

const NSF_TRANSFORM: MAFTransform = { kind: 'rqSpline', bins: 10, bound: 3 };

export class NPE {
  readonly prior: Prior;
  readonly densityEstimator: DensityEstimatorKind;
  private readonly config: { hidden: number; layers: number; hiddenLayers: number };
  private thetaRows: Float64Array[] = [];
  private xRows: Float64Array[] = [];
  private xDimension: number | undefined;
  private kept = 0;
  private excluded = 0;
  private trained: { flow: MAF; fit: NativeMafTrainResult; summary: NPETrainSummary } | undefined;

  constructor(options: NPEOptions) {
    if (typeof options !== 'object' || options === null) throw new TypeError(`Expected an options object with \`prior\` but received ${describe(options)}`);
    const prior = options.prior;
    if (typeof prior !== 'object' || prior === null || typeof prior.inSupport !== 'function' || typeof prior.dim !== 'number') {
      throw new TypeError(`Expected a Prior (createPrior or getTask(...).prior) for \`prior\` but received ${describe(prior)}`);
    }
    this.prior = prior;
    const kind = options.densityEstimator ?? 'maf';
    if (kind !== 'maf' && kind !== 'nsf') throw new RangeError(`Expected "maf" or "nsf" for \`densityEstimator\` but received ${describe(kind)}`);
    this.densityEstimator = kind;
    this.config = {
      hidden: checkPositiveInteger(options.hidden ?? 50, 'hidden', 1 << 16),
      layers: checkPositiveInteger(options.layers ?? 5, 'layers', 256),
      hiddenLayers: checkPositiveInteger(options.hiddenLayers ?? 2, 'hiddenLayers', 64),
    };
  }

  /** Simulations appended so far that will be trained on. */
  get simulations(): number {
    return this.kept;
  }

  /** Simulations excluded because a value of their x was NaN or ±Infinity. */
  get excludedSimulations(): number {
    return this.excluded;
  }

  /**
   * Adds simulations θ [n, prior.dim] (finite) and x [n, xDim]. Rows whose x holds a non-finite
   * value (failed simulations) are excluded, counted and reported, never trained on.
   */
  appendSimulations(theta: Float64Array, x: Float64Array | Float32Array, xDim?: number): { added: number; excluded: number } {
    const n = checkMatrix(theta, this.prior.dim, 'theta');
    checkFiniteArray(theta, 'theta', this.prior.dim);
    if (!(x instanceof Float64Array || x instanceof Float32Array)) {
      throw new TypeError(`Expected a Float64Array or Float32Array for \`x\` ([n, xDim] row-major) but received ${describe(x)}`);
    }
    if (x.length === 0 || x.length % n !== 0) {
      throw new RangeError(`Expected \`x\` to hold n · xDim values with n = ${n} (the rows of theta) but received ${x.length}`);
    }
    const dim = x.length / n;
    if (xDim !== undefined && checkPositiveInteger(xDim, 'xDim') !== dim) {
      throw new RangeError(`Expected \`x\` to hold ${n} rows of xDim = ${xDim} values but it holds ${x.length}`);
    }
    if (this.xDimension !== undefined && dim !== this.xDimension) {
      throw new RangeError(`Expected rows of ${this.xDimension} values in \`x\` (as in earlier simulations) but received ${dim} per row`);
    }
    this.xDimension = dim;
    const keep: number[] = [];
    for (let i = 0; i < n; i++) {
      let finite = true;
      for (let j = 0; j < dim && finite; j++) finite = Number.isFinite(x[i * dim + j]!);
      if (finite) keep.push(i);
    }
    const t = new Float64Array(keep.length * this.prior.dim);
    const xs = new Float64Array(keep.length * dim);
    keep.forEach((i, r) => {
      t.set(theta.subarray(i * this.prior.dim, (i + 1) * this.prior.dim), r * this.prior.dim);
      for (let j = 0; j < dim; j++) xs[r * dim + j] = x[i * dim + j]!;
    });
    this.thetaRows.push(t);
    this.xRows.push(xs);
    this.kept += keep.length;
    this.excluded += n - keep.length;
    return { added: keep.length, excluded: n - keep.length };
  }

  /** Trains the density estimator on every simulation appended so far (from a fresh initialisation). */
  async train(options: NPETrainOptions): Promise<NPETrainSummary> {
    if (typeof options !== 'object' || options === null) throw new TypeError(`Expected an options object with \`seed\` for \`train\` but received ${describe(options)}`);
    const seed = checkSeed(options.seed);
    if (this.xDimension === undefined || this.kept === 0) {
      throw new SbiError(
        `NPE has no simulations to train on${this.excluded > 0 ? ` (all ${this.excluded} had non-finite x)` : ''}; call appendSimulations first`,
        'NO_SIMULATIONS',
      );
    }
    if (options.onEpoch !== undefined && typeof options.onEpoch !== 'function') {
      throw new TypeError(`Expected a function for \`onEpoch\` but received ${describe(options.onEpoch)}`);
    }
    // The native loop draws the split and shuffles from streams 0 and 1 of the training key; the
    // initialisation (stream = layer) uses a key derived from it.
    const trainingSeed = deriveSeed(seed, SeedPurpose.training);
    const nativeOptions = {
      seed: trainingSeed,
      ...(options.maxEpochs !== undefined ? { maxEpochs: checkPositiveInteger(options.maxEpochs, 'maxEpochs', 2 ** 31 - 1) } : {}),
      ...(options.batchSize !== undefined ? { batchSize: checkPositiveInteger(options.batchSize, 'batchSize', 1 << 20) } : {}),
      ...(options.learningRate !== undefined ? { learningRate: checkPositive(options.learningRate, 'learningRate') } : {}),
      ...(options.validationFraction !== undefined ? { validationFraction: checkProbability(options.validationFraction, 'validationFraction') } : {}),
      ...(options.stopAfterEpochs !== undefined ? { stopAfterEpochs: checkPositiveInteger(options.stopAfterEpochs, 'stopAfterEpochs') } : {}),
      ...(options.clipMaxNorm !== undefined ? { clipMaxNorm: checkPositive(options.clipMaxNorm, 'clipMaxNorm') } : {}),
      ...(options.threads !== undefined ? { threads: checkThreads(options.threads) } : {}),
    };
    const flow = new MAF({
      dim: this.prior.dim,
      contextDim: this.xDimension,
      hidden: this.config.hidden,
      hiddenLayers: this.config.hiddenLayers,
      layers: this.config.layers,
      ...(this.densityEstimator === 'nsf' ? { transform: NSF_TRANSFORM } : {}),
    }, { seed: deriveSeed(trainingSeed, 1), precision: 'float32' });
    const theta = Float32Array.from(concat(this.thetaRows));
    const x = Float32Array.from(concat(this.xRows));
    if (options.signal?.aborted) throw abortError();
    const cancel = new Int32Array(1);
    const fit = await whileAbortable(options.signal, () => Atomics.store(cancel, 0, 1), () =>
      native.mafTrain(flow.arch, flow.transform.kind, flow.hyper, flow.params as Float32Array, theta, x, nativeOptions, options.onEpoch, cancel));
    flow.params = fit.params;
    const summary: NPETrainSummary = {
      epochs: fit.epochs,
      bestEpoch: fit.bestEpoch,
      bestValidationLoss: fit.bestValidationLoss,
      trainLoss: fit.trainLoss,
      validationLoss: fit.validationLoss,
      simulations: this.kept,
      excludedSimulations: this.excluded,
    };
    this.trained = { flow, fit, summary };
    return { ...summary, trainLoss: summary.trainLoss.slice(), validationLoss: summary.validationLoss.slice() };
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
    return NPE.fromModel(readNpeModel(loadModelFile(path)));
  }

  /** `load` from the bytes of a model file. */
  static decode(bytes: Uint8Array): NPE {
    return NPE.fromModel(readNpeModel(decodeModelFile(bytes)));
  }

  private static fromModel(m: NpeModel): NPE {
    const npe = new NPE({
      prior: m.prior, densityEstimator: m.densityEstimator, hidden: m.flow.hidden, layers: m.flow.layers, hiddenLayers: m.flow.hiddenLayers,
    });
    npe.trained = { flow: m.flow, fit: m.fit, summary: m.summary };
    return npe;
  }

  /** The posterior of the last training: q(θ | x) restricted to the prior's support. */
  buildPosterior(): NPEPosterior {
    if (!this.trained) throw new SbiError('NPE is not trained yet; call `await npe.train({ seed })` first', 'NOT_TRAINED');
    return new NPEPosterior(this.prior, this.trained.flow, this.trained.fit, this.trained.summary);
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

  constructor(readonly prior: Prior, private readonly flow: MAF, private readonly fit: NativeMafTrainResult, summary?: NPETrainSummary) {
    this.summary = summary ?? {
      epochs: fit.epochs, bestEpoch: fit.bestEpoch, bestValidationLoss: fit.bestValidationLoss, trainLoss: fit.trainLoss,
      validationLoss: fit.validationLoss, simulations: 0, excludedSimulations: 0,
    };
    this.dim = flow.dim;
    this.xDim = flow.contextDim;
    this.logStdSum = fit.thetaStd.reduce((s, v) => s + Math.log(v), 0);
  }

  /** n draws θ ~ q(θ | x) inside the prior's support [n, dim] (rejection of the rest). */
  sample(n: number, options: PosteriorSampleOptions): Float64Array {
    checkPositiveInteger(n, 'n', 2 ** 31);
    if (typeof options !== 'object' || options === null) throw new TypeError(`Expected an options object with \`x\` and \`seed\` but received ${describe(options)}`);
    const seed = deriveSeed(checkSeed(options.seed), SeedPurpose.sampling);
    const minAcceptance = options.minAcceptance === undefined ? 1e-4 : checkProbability(options.minAcceptance, 'minAcceptance');
    const minProposals = options.minProposals === undefined ? 100_000 : checkPositiveInteger(options.minProposals, 'minProposals');
    const context = this.context(options.x);
    const D = this.dim;
    const out = new Float64Array(n * D);
    let accepted = 0;
    let proposed = 0;
    for (let round = 0; accepted < n; round++) {
      const rate = proposed === 0 ? 1 : Math.max(accepted / proposed, minAcceptance);
      const m = Math.min(Math.max(Math.ceil((1.2 * (n - accepted)) / rate), 256), 1 << 20);
      const z = this.flow.sample(m, context, { seed: deriveSeed(seed, round) });
      const theta = new Float64Array(m * D);
      for (let i = 0; i < m; i++) {
        for (let d = 0; d < D; d++) theta[i * D + d] = this.fit.thetaMean[d]! + this.fit.thetaStd[d]! * z[i * D + d]!;
      }
      const inside = this.prior.inSupport(theta);
      for (let i = 0; i < m && accepted < n; i++) {
        if (inside[i]) out.set(theta.subarray(i * D, (i + 1) * D), D * accepted++);
      }
      proposed += m;
      if (accepted < n && proposed >= minProposals && accepted / proposed < minAcceptance) {
        throw new SbiError(
          `Only ${accepted} of ${proposed} posterior samples (${((100 * accepted) / proposed).toPrecision(2)} %) fell inside the prior's support, ` +
            `below minAcceptance = ${minAcceptance}: the estimator puts almost all its mass outside the prior (leakage). ` +
            'Train with more simulations, or check that x matches the simulations.',
          'LOW_ACCEPTANCE',
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
    const z = new Float32Array(theta.length);
    for (let i = 0; i < n; i++) {
      for (let d = 0; d < this.dim; d++) z[i * this.dim + d] = (theta[i * this.dim + d]! - this.fit.thetaMean[d]!) / this.fit.thetaStd[d]!;
    }
    const lq = this.flow.logProb(z, context);
    const inside = this.prior.inSupport(theta);
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = inside[i] ? lq[i]! - this.logStdSum : -Infinity;
    return out;
  }

  /** "NPE/maf" or "NPE/nsf": the model file kind `save` writes. */
  get kind(): string {
    return this.flow.transform.kind === 'rqSpline' ? NPE_KINDS.nsf : NPE_KINDS.maf;
  }

  /** The model file contents `save` writes (see NPE.save). */
  toModelFile(): ModelFile {
    const f = this.flow;
    const s = this.summary;
    return {
      kind: this.kind,
      metadata: {
        npeFileVersion: NPE_FILE_VERSION,
        prior: this.prior.spec,
        densityEstimator: f.transform.kind === 'rqSpline' ? 'nsf' : 'maf',
        flow: {
          dim: f.dim, contextDim: f.contextDim, hidden: f.hidden, hiddenLayers: f.hiddenLayers, layers: f.layers,
          activation: f.activation, transform: f.transform, paramCount: f.paramCount,
        },
        training: { epochs: s.epochs, bestEpoch: s.bestEpoch, simulations: s.simulations, excludedSimulations: s.excludedSimulations },
      },
      tensors: {
        // Parameters as trained (float32), statistics and losses as float64: exact bits.
        params: { data: Float32Array.from(f.params), shape: [f.paramCount] },
        thetaMean: { data: this.fit.thetaMean, shape: [f.dim] },
        thetaStd: { data: this.fit.thetaStd, shape: [f.dim] },
        xMean: { data: this.fit.xMean, shape: [f.contextDim] },
        xStd: { data: this.fit.xStd, shape: [f.contextDim] },
        trainLoss: { data: s.trainLoss, shape: [s.trainLoss.length] },
        validationLoss: { data: s.validationLoss, shape: [s.validationLoss.length] },
        bestValidationLoss: { data: Float64Array.of(s.bestValidationLoss), shape: [1] },
      },
    };
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
    const m = readNpeModel(file);
    return new NPEPosterior(m.prior, m.flow, m.fit, m.summary);
  }

  /** The observation z-scored like the training x, as the flow's broadcast context. */
  private context(x: unknown): Float32Array {
    const isArray = Array.isArray(x) || (ArrayBuffer.isView(x) && !(x instanceof DataView));
    if (!isArray) throw new TypeError(`Expected the observation \`x\` (${this.xDim} numbers) but received ${describe(x)}`);
    const xs = x as ArrayLike<unknown>;
    if (xs.length !== this.xDim) throw new RangeError(`Expected ${this.xDim} values for \`x\` (as in the simulations) but received ${xs.length}`);
    const out = new Float32Array(this.xDim);
    for (let j = 0; j < this.xDim; j++) {
      const v = xs[j];
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new RangeError(`Expected finite numbers in \`x\` but index ${j} is ${describe(v)}`);
      out[j] = (v - this.fit.xMean[j]!) / this.fit.xStd[j]!;
    }
    return out;
  }
}

const NPE_KINDS = { maf: 'NPE/maf', nsf: 'NPE/nsf' } as const;
/** Version of the NPE layout inside the container (metadata.npeFileVersion). */
const NPE_FILE_VERSION = 1;

interface NpeModel {
  prior: Prior;
  densityEstimator: DensityEstimatorKind;
  flow: MAF;
  fit: NativeMafTrainResult;
  summary: NPETrainSummary;
}

const invalid = (why: string) => new SbiError(`Invalid NPE model file: ${why}`, 'INVALID_MODEL_FILE');

/** Validates decoded NPE model file contents and rebuilds prior, flow and statistics. */
function readNpeModel(file: ModelFile): NpeModel {
  if (file.kind !== NPE_KINDS.maf && file.kind !== NPE_KINDS.nsf) {
    throw new SbiError(`Expected a model file of kind "${NPE_KINDS.maf}" or "${NPE_KINDS.nsf}" but this one holds "${file.kind}"`, 'WRONG_MODEL_KIND');
  }
  const meta = file.metadata;
  if (meta.npeFileVersion !== NPE_FILE_VERSION) {
    throw new SbiError(`Unsupported NPE layout version ${describe(meta.npeFileVersion)} (this build reads ${NPE_FILE_VERSION})`, 'UNSUPPORTED_MODEL_VERSION');
  }
  const densityEstimator: DensityEstimatorKind = file.kind === NPE_KINDS.nsf ? 'nsf' : 'maf';
  if (meta.densityEstimator !== densityEstimator) {
    throw invalid(`densityEstimator ${describe(meta.densityEstimator)} does not match the kind "${file.kind}"`);
  }
  let prior: Prior;
  try {
    prior = createPrior(meta.prior as PriorSpec);
  } catch (e) {
    throw invalid(`bad prior spec (${(e as Error).message})`);
  }
  const cfg = meta.flow as Record<string, unknown> | undefined;
  if (typeof cfg !== 'object' || cfg === null) throw invalid('no flow configuration');
  const transform = cfg.transform as MAFConfig['transform'];
  const expectedTransform = densityEstimator === 'nsf' ? 'rqSpline' : 'affine';
  if (typeof transform !== 'object' || transform === null || transform.kind !== expectedTransform) {
    throw invalid(`flow transform ${describe((transform as { kind?: unknown } | undefined)?.kind)} does not match the kind "${file.kind}"`);
  }
  let flow: MAF;
  try {
    flow = new MAF({
      dim: cfg.dim as number, contextDim: cfg.contextDim as number, hidden: cfg.hidden as number, hiddenLayers: cfg.hiddenLayers as number,
      layers: cfg.layers as number, activation: cfg.activation as MAFConfig['activation'], transform,
    }, { precision: 'float32' });
  } catch (e) {
    throw invalid(`bad flow configuration (${(e as Error).message})`);
  }
  if (flow.contextDim < 1) throw invalid('flow has no context (contextDim 0)');
  if (prior.dim !== flow.dim) throw invalid(`prior has ${prior.dim} dimensions but the flow models ${flow.dim}`);
  if (cfg.paramCount !== flow.paramCount) {
    throw invalid(`paramCount ${describe(cfg.paramCount)} does not match the flow configuration (${flow.paramCount} parameters)`);
  }
  const tensor = <T extends Float32Array | Float64Array>(name: string, ctor: { new (n: number): T; name: string }, length: number): T => {
    const t = file.tensors[name];
    if (!t) throw invalid(`tensor "${name}" is missing`);
    if (!(t.data instanceof ctor) || t.shape.length !== 1 || t.data.length !== length) {
      throw invalid(`tensor "${name}" should be a ${ctor.name} of ${length} values but holds ${t.data.constructor.name} [${t.shape}]`);
    }
    return t.data as T;
  };
  const params = tensor('params', Float32Array, flow.paramCount);
  for (let j = 0; j < params.length; j++) {
    if (!Number.isFinite(params[j]!)) throw invalid(`parameter ${j} is ${params[j]}`);
    if (flow.mask[j] === 0 && params[j] !== 0) throw invalid(`masked parameter ${j} is ${params[j]} (must be 0): the parameters do not fit the architecture`);
  }
  const stats = (name: string, length: number, positive: boolean) => {
    const v = tensor(name, Float64Array, length);
    v.forEach((a, i) => {
      if (!Number.isFinite(a) || (positive && !(a > 0))) throw invalid(`${name}[${i}] is ${a}`);
    });
    return v;
  };
  const thetaMean = stats('thetaMean', flow.dim, false);
  const thetaStd = stats('thetaStd', flow.dim, true);
  const xMean = stats('xMean', flow.contextDim, false);
  const xStd = stats('xStd', flow.contextDim, true);
  const training = meta.training as Record<string, unknown> | undefined;
  if (typeof training !== 'object' || training === null) throw invalid('no training summary');
  const count = (name: string, min: number) => {
    const v = training[name];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) throw invalid(`training.${name} is ${describe(v)}`);
    return v;
  };
  const epochs = count('epochs', 1);
  const bestEpoch = count('bestEpoch', 1);
  if (bestEpoch > epochs) throw invalid(`training.bestEpoch ${bestEpoch} exceeds epochs ${epochs}`);
  const trainLoss = tensor('trainLoss', Float64Array, epochs);
  const validationLoss = tensor('validationLoss', Float64Array, epochs);
  const bestValidationLoss = tensor('bestValidationLoss', Float64Array, 1)[0]!;
  flow.params = params;
  const fit: NativeMafTrainResult = { params, epochs, bestEpoch, bestValidationLoss, trainLoss, validationLoss, thetaMean, thetaStd, xMean, xStd };
  const summary: NPETrainSummary = {
    epochs, bestEpoch, bestValidationLoss, trainLoss, validationLoss,
    simulations: count('simulations', 1), excludedSimulations: count('excludedSimulations', 0),
  };
  return { prior, densityEstimator, flow, fit, summary };
}

function concat(parts: Float64Array[]): Float64Array {
  const out = new Float64Array(parts.reduce((s, p) => s + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
