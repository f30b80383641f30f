/**
 * Neural ratio estimation (NRE): a classifier f(θ, x) trained to tell joint pairs (θ, x) ~ p(θ, x)
 * from contrasting pairs whose θ comes from another simulation, so that f ≈ log r(θ, x) =
 * log p(x | θ) / p(x), and the posterior is p(θ | x_o) ∝ r(θ, x_o) p(θ), sampled by MCMC.
 * Losses (kernels/nn/ratio_loss.h, docs/nre.md):
 *   'a'    NRE-A, Hermans, Begy, Louppe 2020, arXiv:1903.04057 (binary cross-entropy)
 *   'b'    NRE-B, Durkan, Murray, Papamakarios 2020, arXiv:2002.03712 (K atoms, default 10)
 *   'c'    NRE-C, Miller, Weniger, Forré 2022, arXiv:2210.06170 (K classes, default 5; γ = 1)
 *   'bnre' BNRE, Delaunoy et al. 2022, arXiv:2208.13624 (NRE-A + λ · balance², λ = 100)
 * The classifier is sbi's default: a residual network (50 hidden units, 2 blocks, ReLU) on the
 * z-scored [θ, x], trained natively (native/ratio_trainer.h) with sbi's training defaults. With
 * `embedding`, it sees [z(θ), e_φ(z(x))] instead, e_φ a ReLU MLP trained jointly (sbi's
 * `classifier_nn(..., embedding_net_x=...)`; kernels/nn/ratio_embedding.h), each x row of a
 * batch embedded once for all its contrasting pairs.
 *
 * On another backend (`train({ backend })`, `buildPosterior({ backend })`), the classifier
 * trains and evaluates on the device (ops nre.train and nre.log_ratio, docs/backends.md), with
 * the CPU trainer's randomness, with or without an embedding network (op nre.embedding_train).
 *
 * Shapes: θ [n, prior.dim], x [n, xDim], row-major.
 */
import { backendForOp, cpuBackend, type Backend, type BackendRequest } from '../backend/backend.js';
import type { RatioClassifier } from '../backend/ratio_ops.js';
import { trainRatioWebGpu } from '../backend/ratio_train_webgpu.js';
import { openWebGpu } from '../backend/webgpu.js';
import { SbiError } from '../errors.js';
import { native } from '../native.js';
import type { NativeEpochLosses, NativeMafTrainOptions, NativeRatioLoss, NativeRatioTrainResult } from '../native.js';
import type { Prior } from '../priors.js';
import { decodeModelFile, encodeModelFile, loadModelFile, saveModelFile } from '../io/model_file.js';
import type { ModelFile } from '../io/model_file.js';
import { ModelFileReader } from '../io/model_reader.js';
import { deriveSeed, SeedPurpose } from '../seeds.js';
import { abortError, whileAbortable } from '../simulators/call.js';
import {
  checkPositive, checkPositiveInteger, checkProbability, checkSeed, checkThreads, describe,
} from '../validate.js';
import { EmbeddingNet, mlpParamCount, readEmbeddingOptions } from './embedding.js';
import type { EmbeddingConfig, EmbeddingOptions } from './embedding.js';
import { SimulationStore } from './flow_estimator.js';
import { MCMCPosterior } from './mcmc_posterior.js';
import type { MCMCSampleOptions, PotentialFunction } from './mcmc_posterior.js';
import { runRounds, type SimulatorFunction } from './sequential.js';

export type NREVariant = 'a' | 'b' | 'c' | 'bnre';

export interface NREOptions {
  prior: Prior;
  /** The loss (default 'b', as sbi's NRE). */
  variant?: NREVariant;
  /** NRE-B: atoms per x, the joint θ and numAtoms − 1 contrasts (default 10). */
  numAtoms?: number;
  /** NRE-C: contrasting classes K (default 5). */
  numClasses?: number;
  /** NRE-C: weight of the independent class (default 1). */
  gamma?: number;
  /** BNRE: strength λ of the balance penalty (default 100). */
  regularizationStrength?: number;
  /** Hidden units of the residual classifier (default 50). */
  hidden?: number;
  /** Residual blocks (default 2). */
  blocks?: number;
  /**
   * A jointly trained embedding network e(x) (ReLU MLP, default hidden [100, 100]) between the
   * z-scored x and the classifier, which then sees [z(θ), e(z(x))]: for high-dimensional x.
   */
  embedding?: EmbeddingOptions;
}

/** Training settings: sbi's defaults (batch 200, lr 5e-4, 10 % validation, patience 20, clip 5). */
export interface NRETrainOptions extends NativeMafTrainOptions {
  onEpoch?: (losses: NativeEpochLosses) => void;
  signal?: AbortSignal;
  /**
   * Where the classifier trains (default 'cpu'): 'webgpu' runs the CPU trainer's algorithm and
   * randomness on the device (op nre.train; nre.embedding_train with an embedding network); 'auto'
   * uses it where it runs, else the CPU.
   */
  backend?: BackendRequest;
}

/**
 * The backend that runs NRE's `op` for `request` (backendForOp's choice); training with an
 * embedding network is op nre.embedding_train.
 */
export async function ratioBackend(request: BackendRequest, op: 'nre.train' | 'nre.log_ratio', embedding: boolean): Promise<Backend> {
  if (request === 'cpu') return cpuBackend;
  return backendForOp(request, op === 'nre.train' && embedding ? 'nre.embedding_train' : op);
}

export interface NRETrainSummary {
  epochs: number;
  bestEpoch: number;
  /** The loss over the validation rows (fixed contrasting pairs) at the best epoch. */
  bestValidationLoss: number;
  trainLoss: Float64Array;
  validationLoss: Float64Array;
  /** Simulations trained on (training and validation rows) and those excluded as non-finite. */
  simulations: number;
  excludedSimulations: number;
}

interface RatioConfig {
  variant: NREVariant;
  classes: number;
  gamma: number;
  lambda: number;
  hidden: number;
  blocks: number;
  embedding?: EmbeddingConfig;
}

/** A trained classifier: log r(θ, x) for many rows at once. */
export class RatioEstimator {
  readonly arch: Int32Array;
  /** The embedding network of x (with `embedding`), its parameters the fit's `embeddingParams`. */
  readonly embedding: EmbeddingNet | undefined;

  constructor(
    readonly thetaDim: number, readonly xDim: number, readonly config: RatioConfig, readonly fit: NativeRatioTrainResult,
  ) {
    this.arch = Int32Array.of(thetaDim, xDim, config.hidden, config.blocks);
    const e = config.embedding;
    this.embedding = e === undefined ? undefined
      : new EmbeddingNet(Int32Array.of(xDim, ...e.hidden, e.outputDim), fit.embeddingParams ?? new Float32Array(0));
  }

  /**
   * f(θ_i, x_i) = log r(θ_i, x_i) for θ [rows, thetaDim]; x holds one row per θ row or a single
   * observation [xDim] shared by all rows (not copied per row).
   */
  logRatio(theta: Float64Array, rows: number, x: Float64Array, threads?: number): Float64Array {
    const out = new Float64Array(rows);
    const f = this.fit;
    const t = theta.length === rows * this.thetaDim ? theta : theta.subarray(0, rows * this.thetaDim);
    const e = this.embedding;
    native.nreLogRatio(this.arch, f.params, f.thetaMean, f.thetaStd, f.xMean, f.xStd, t, x, out, threads, e?.sizes, e?.params);
    return out;
  }

  /** The classifier as op nre.log_ratio takes it (with its embedding network, if any). */
  get classifier(): RatioClassifier {
    const f = this.fit;
    const e = this.embedding;
    return {
      thetaDim: this.thetaDim, xDim: this.xDim, hidden: this.config.hidden, blocks: this.config.blocks,
      params: f.params, thetaMean: f.thetaMean, thetaStd: f.thetaStd, xMean: f.xMean, xStd: f.xStd,
      ...(e ? { embeddingSizes: Array.from(e.sizes), embeddingParams: e.params } : {}),
    };
  }

  /** logRatio on `backend` (op nre.log_ratio); the CPU backend evaluates as logRatio does. */
  async logRatioOn(backend: Backend, theta: Float64Array, rows: number, x: Float64Array): Promise<Float64Array> {
    if (backend.name === 'cpu') return this.logRatio(theta, rows, x);
    const t = theta.length === rows * this.thetaDim ? theta : theta.subarray(0, rows * this.thetaDim);
    return backend.nreLogRatio(this.classifier, t, x);
  }
}

/**
 * NRE's posterior: the potential log r(θ, x) on the backend `buildPosterior` named (its one batched
 * call per sampler step, op nre.log_ratio). `sample(n, { backend })` with a backend other than
 * 'cpu' runs the potential there instead for that call, as NLEPosterior does.
 */
class NREPosterior extends MCMCPosterior {
  constructor(prior: Prior, private readonly estimator: RatioEstimator, bound: BackendRequest) {
    super(prior, estimator.xDim, NREPosterior.potential(estimator, bound));
  }

  private static potential(estimator: RatioEstimator, request: BackendRequest): PotentialFunction {
    if (request === 'cpu') return (theta, rows, x) => estimator.logRatio(theta, rows, x);
    const backend = ratioBackend(request, 'nre.log_ratio', estimator.embedding !== undefined);
    backend.catch(() => {}); // reported by the first potential call
    return async (theta, rows, x) => estimator.logRatioOn(await backend, theta, rows, x);
  }

  protected override async potentialOn(request: BackendRequest): Promise<PotentialFunction> {
    if (request === 'cpu') return super.potentialOn('cpu');
    const backend = await ratioBackend(request, 'nre.log_ratio', this.estimator.embedding !== undefined);
    return (theta, rows, x) => this.estimator.logRatioOn(backend, theta, rows, x);
  }
}

export class NRE {
  readonly prior: Prior;
  readonly variant: NREVariant;
  private readonly config: RatioConfig;
  private readonly store: SimulationStore;
  private trained: { estimator: RatioEstimator; summary: NRETrainSummary } | undefined;

  constructor(options: NREOptions) {
    if (typeof options !== 'object' || options === null) throw new TypeError(`Expected an options object with \`prior\` but received ${describe(options)}`);
    const prior = options.prior;
    if (typeof prior !== 'object' || prior === null || typeof prior.inSupport !== 'function' || typeof prior.dim !== 'number') {
      throw new TypeError(`Expected a Prior (createPrior or getTask(...).prior) for \`prior\` but received ${describe(prior)}`);
    }
    this.prior = prior;
    this.store = new SimulationStore(prior.dim);
    const variant = options.variant ?? 'b';
    if (!['a', 'b', 'c', 'bnre'].includes(variant as string)) {
      throw new RangeError(`Expected "a", "b", "c" or "bnre" for \`variant\` but received ${describe(variant)}`);
    }
    this.variant = variant;
    const classes = variant === 'b'
      ? checkPositiveInteger(options.numAtoms ?? 10, 'numAtoms', 64)
      : variant === 'c' ? checkPositiveInteger(options.numClasses ?? 5, 'numClasses', 64) : 2;
    if (variant === 'b' && classes < 2) throw new RangeError(`Expected at least 2 for \`numAtoms\` (the joint θ and a contrast) but received ${classes}`);
    this.config = {
      variant,
      classes,
      gamma: checkPositive(options.gamma ?? 1, 'gamma'),
      lambda: options.regularizationStrength === undefined ? 100 : checkNonNegative(options.regularizationStrength, 'regularizationStrength'),
      hidden: checkPositiveInteger(options.hidden ?? 50, 'hidden', 4096),
      blocks: checkPositiveInteger(options.blocks ?? 2, 'blocks', 64),
      ...(options.embedding !== undefined ? { embedding: readEmbeddingOptions(options.embedding)! } : {}),
    };
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
   * never trained on. Returns `this`: `await new NRE({ prior }).appendSimulations(theta, x).train({ seed })`.
   */
  appendSimulations(theta: Float64Array, x: Float64Array | Float32Array, xDim?: number): this {
    this.store.append(theta, x, xDim);
    return this;
  }

  /** What the last `appendSimulations` call kept (`added`) and excluded (non-finite x). */
  get lastAppend(): { added: number; excluded: number } {
    return { ...this.store.last };
  }

  /** Trains the classifier on every simulation appended so far (from a fresh initialisation). */
  async train(options: NRETrainOptions): Promise<NRETrainSummary> {
    if (typeof options !== 'object' || options === null) throw new TypeError(`Expected an options object with \`seed\` for \`train\` but received ${describe(options)}`);
    const seed = checkSeed(options.seed);
    const data = this.store.data('NRE');
    if (options.onEpoch !== undefined && typeof options.onEpoch !== 'function') {
      throw new TypeError(`Expected a function for \`onEpoch\` but received ${describe(options.onEpoch)}`);
    }
    // Streams 0..4 of this key: split, shuffles, contrasts, validation contrasts, initialisation;
    // the embedding's initialisation (as NPE's: stream = layer) uses a key derived from it.
    const trainingSeed = deriveSeed(seed, SeedPurpose.training);
    const c = this.config;
    const embedding = c.embedding === undefined ? undefined
      : EmbeddingNet.init([data.xDim, ...c.embedding.hidden, c.embedding.outputDim], deriveSeed(trainingSeed, 2));
    const nativeOptions = {
      seed: trainingSeed,
      ...(options.maxEpochs !== undefined ? { maxEpochs: checkPositiveInteger(options.maxEpochs, 'maxEpochs', 2 ** 31 - 1) } : {}),
      ...(options.batchSize !== undefined ? { batchSize: checkPositiveInteger(options.batchSize, 'batchSize', 1 << 20) } : {}),
      ...(options.learningRate !== undefined ? { learningRate: checkPositive(options.learningRate, 'learningRate') } : {}),
      ...(options.validationFraction !== undefined ? { validationFraction: checkProbability(options.validationFraction, 'validationFraction') } : {}),
      ...(options.stopAfterEpochs !== undefined ? { stopAfterEpochs: checkPositiveInteger(options.stopAfterEpochs, 'stopAfterEpochs') } : {}),
      ...(options.clipMaxNorm !== undefined ? { clipMaxNorm: checkPositive(options.clipMaxNorm, 'clipMaxNorm') } : {}),
      ...(options.threads !== undefined ? { threads: checkThreads(options.threads) } : {}),
      ...(embedding ? { embeddingSizes: embedding.sizes, embeddingParams: embedding.params } : {}),
    };
    const loss: NativeRatioLoss = { variant: c.variant, classes: c.classes, gamma: c.gamma, lambda: c.lambda };
    const arch = Int32Array.of(this.prior.dim, data.xDim, c.hidden, c.blocks);
    const { theta, x } = data;
    const backend = await ratioBackend(options.backend ?? 'cpu', 'nre.train', embedding !== undefined);
    if (options.signal?.aborted) throw abortError();
    let fit: NativeRatioTrainResult;
    if (backend.name === 'webgpu') {
      const { threads: _t, embeddingSizes: _s, ...webgpuOptions } = nativeOptions;
      const shape = {
        thetaDim: this.prior.dim, xDim: data.xDim, hidden: c.hidden, blocks: c.blocks, ...(embedding ? { embeddingSizes: Array.from(embedding.sizes) } : {}),
      };
      fit = await trainRatioWebGpu(await openWebGpu(), shape, { variant: c.variant, classes: c.classes, gamma: c.gamma, lambda: c.lambda }, theta, x, {
        ...webgpuOptions, ...(options.onEpoch ? { onEpoch: options.onEpoch } : {}), ...(options.signal ? { signal: options.signal } : {}),
      });
    } else {
      const cancel = new Int32Array(1);
      fit = await whileAbortable(options.signal, () => Atomics.store(cancel, 0, 1), () =>
        native.nreTrain(arch, loss, theta, x, nativeOptions, options.onEpoch, cancel));
    }
    const summary: NRETrainSummary = {
      epochs: fit.epochs, bestEpoch: fit.bestEpoch, bestValidationLoss: fit.bestValidationLoss, trainLoss: fit.trainLoss,
      validationLoss: fit.validationLoss, simulations: this.store.kept, excludedSimulations: this.store.excluded,
    };
    this.trained = { estimator: new RatioEstimator(this.prior.dim, data.xDim, c, fit), summary };
    return { ...summary, trainLoss: summary.trainLoss.slice(), validationLoss: summary.validationLoss.slice() };
  }

  /** The trained classifier (SbiError NOT_TRAINED before training). */
  get estimator(): RatioEstimator {
    if (!this.trained) throw new SbiError('NRE is not trained yet; call `await nre.train({ seed })` first', 'NOT_TRAINED');
    return this.trained.estimator;
  }

  /** The training summary of the last `train` (or of the loaded file). */
  get summary(): NRETrainSummary {
    if (!this.trained) throw new SbiError('NRE is not trained yet; call `await nre.train({ seed })` first', 'NOT_TRAINED');
    return this.trained.summary;
  }

  /**
   * The posterior p(θ | x) ∝ r(θ, x) p(θ) as an MCMCPosterior (slice sampling with sbibm's
   * settings). Its `logProb` is UNNORMALISED: log r(θ, x) + log p(θ), off by a constant in θ.
   * With `backend` (default 'cpu'), the potential log r(θ, x), the sampler's one batched call per
   * step, runs there (op nre.log_ratio); the sampler's bookkeeping stays in TypeScript. A backend
   * named explicitly that cannot run it fails at the first call (UNSUPPORTED_OP).
   */
  buildPosterior(options: { backend?: BackendRequest } = {}): MCMCPosterior {
    return new NREPosterior(this.prior, this.estimator, options.backend ?? 'cpu');
  }

  /** "NRE/a", "NRE/b", "NRE/c" or "NRE/bnre": the model file kind `save` writes. */
  get kind(): string {
    return `NRE/${this.variant}`;
  }

  /** The model file contents (src/io/model_file.ts): prior spec, loss and network, parameters, z-scoring, summary. */
  toModelFile(): ModelFile {
    const e = this.estimator;
    const s = this.summary;
    const c = e.config;
    const em = e.embedding;
    return {
      kind: this.kind,
      metadata: {
        nreFileVersion: em ? NRE_EMBEDDING_FILE_VERSION : NRE_FILE_VERSION,
        prior: this.prior.spec,
        loss: { variant: c.variant, classes: c.classes, gamma: c.gamma, lambda: c.lambda },
        classifier: { thetaDim: e.thetaDim, xDim: e.xDim, hidden: c.hidden, blocks: c.blocks, paramCount: e.fit.params.length },
        ...(em ? { embedding: { sizes: Array.from(em.sizes), activation: 'relu', paramCount: em.paramCount } } : {}),
        training: { epochs: s.epochs, bestEpoch: s.bestEpoch, simulations: s.simulations, excludedSimulations: s.excludedSimulations },
      },
      tensors: {
        params: { data: e.fit.params, shape: [e.fit.params.length] },
        ...(em ? { embeddingParams: { data: em.params, shape: [em.paramCount] } } : {}),
        thetaMean: { data: e.fit.thetaMean, shape: [e.thetaDim] },
        thetaStd: { data: e.fit.thetaStd, shape: [e.thetaDim] },
        xMean: { data: e.fit.xMean, shape: [e.xDim] },
        xStd: { data: e.fit.xStd, shape: [e.xDim] },
        trainLoss: { data: s.trainLoss, shape: [s.epochs] },
        validationLoss: { data: s.validationLoss, shape: [s.epochs] },
        bestValidationLoss: { data: Float64Array.of(s.bestValidationLoss), shape: [1] },
      },
    };
  }

  encode(): Uint8Array {
    return encodeModelFile(this.toModelFile());
  }

  /** Writes the trained estimator to `path` (the simulations are not stored). */
  save(path: string): void {
    saveModelFile(path, this.toModelFile());
  }

  /** Reads an estimator written by `save`; its posterior evaluates bit for bit like the original's. */
  static load(path: string): NRE {
    return NRE.fromModelFile(loadModelFile(path));
  }

  static decode(bytes: Uint8Array): NRE {
    return NRE.fromModelFile(decodeModelFile(bytes));
  }

  /** Rebuilds an NRE from model file contents, checking that they are consistent. */
  static fromModelFile(file: ModelFile): NRE {
    const variant = NRE_VARIANTS.find((v) => file.kind === `NRE/${v}`);
    if (variant === undefined) {
      throw new SbiError(`Expected a model file of kind ${NRE_VARIANTS.map((v) => `"NRE/${v}"`).join(', ')} but this one holds "${file.kind}"`, 'WRONG_MODEL_KIND');
    }
    const meta = file.metadata;
    if (meta.nreFileVersion !== NRE_FILE_VERSION && meta.nreFileVersion !== NRE_EMBEDDING_FILE_VERSION) {
      throw new SbiError(`Unsupported NRE layout version ${describe(meta.nreFileVersion)} (this build reads ${NRE_FILE_VERSION} and ${NRE_EMBEDDING_FILE_VERSION})`, 'UNSUPPORTED_MODEL_VERSION');
    }
    const withEmbedding = meta.nreFileVersion === NRE_EMBEDDING_FILE_VERSION;
    const reader = new ModelFileReader(file, 'NRE');
    const prior = reader.prior();
    const loss = meta.loss as Record<string, number> | undefined;
    const net = meta.classifier as Record<string, number> | undefined;
    if (typeof loss !== 'object' || loss === null || typeof net !== 'object' || net === null) throw invalid('no loss or classifier configuration');
    if ((loss as Record<string, unknown>).variant !== variant) throw invalid(`loss variant ${describe((loss as Record<string, unknown>).variant)} does not match the kind "${file.kind}"`);
    const xDim = net.xDim;
    if (!Number.isSafeInteger(xDim) || xDim < 1) throw invalid(`classifier.xDim is ${describe(xDim)}`);
    let embedding: EmbeddingOptions | undefined;
    if (withEmbedding) {
      const em = meta.embedding as { sizes?: unknown; activation?: unknown } | undefined;
      const sizes = em?.sizes;
      if (typeof em !== 'object' || em === null || em.activation !== 'relu' || !Array.isArray(sizes) || sizes.length < 2) {
        throw invalid(`bad embedding configuration ${describe(em)}`);
      }
      if (sizes[0] !== xDim) throw invalid(`embedding input width ${describe(sizes[0])} does not match classifier.xDim ${xDim}`);
      embedding = { hidden: sizes.slice(1, -1), outputDim: sizes[sizes.length - 1] };
    }
    let nre: NRE;
    try {
      nre = new NRE({
        prior, variant, numAtoms: variant === 'b' ? loss.classes : undefined, numClasses: variant === 'c' ? loss.classes : undefined,
        gamma: loss.gamma, regularizationStrength: loss.lambda, hidden: net.hidden, blocks: net.blocks, ...(embedding ? { embedding } : {}),
      });
    } catch (e) {
      throw invalid(`bad configuration (${(e as Error).message})`);
    }
    if (net.thetaDim !== prior.dim) throw invalid(`prior has ${prior.dim} dimensions but the classifier takes ${describe(net.thetaDim)}`);
    const H = nre.config.hidden;
    const features = nre.config.embedding ? nre.config.embedding.outputDim : xDim;
    const paramCount = H * (prior.dim + features + 1) + nre.config.blocks * 2 * H * (H + 1) + H + 1;
    if (net.paramCount !== paramCount) throw invalid(`paramCount ${describe(net.paramCount)} does not match the classifier (${paramCount} parameters)`);
    const { count, ...losses } = reader.trainingSummary();
    const fit: NativeRatioTrainResult = {
      params: reader.finiteTensor('params', Float32Array, paramCount),
      ...losses,
      thetaMean: reader.finiteTensor('thetaMean', Float64Array, prior.dim),
      thetaStd: reader.finiteTensor('thetaStd', Float64Array, prior.dim, true),
      xMean: reader.finiteTensor('xMean', Float64Array, xDim),
      xStd: reader.finiteTensor('xStd', Float64Array, xDim, true),
    };
    const emConfig = nre.config.embedding;
    if (emConfig) {
      const embedCount = mlpParamCount([xDim, ...emConfig.hidden, emConfig.outputDim]);
      const declared = (meta.embedding as { paramCount?: unknown }).paramCount;
      if (declared !== embedCount) throw invalid(`embedding paramCount ${describe(declared)} does not match its widths (${embedCount} parameters)`);
      fit.embeddingParams = reader.finiteTensor('embeddingParams', Float32Array, embedCount);
    }
    const summary: NRETrainSummary = {
      ...losses,
      simulations: count('simulations', 1), excludedSimulations: count('excludedSimulations', 0),
    };
    nre.trained = { estimator: new RatioEstimator(prior.dim, xDim, nre.config, fit), summary };
    return nre;
  }
}

/** NRE with a fixed loss, named as in sbi. */
export class NRE_A extends NRE {
  constructor(options: Omit<NREOptions, 'variant'>) {
    super({ ...options, variant: 'a' });
  }
}
export class NRE_B extends NRE {
  constructor(options: Omit<NREOptions, 'variant'>) {
    super({ ...options, variant: 'b' });
  }
}
export class NRE_C extends NRE {
  constructor(options: Omit<NREOptions, 'variant'>) {
    super({ ...options, variant: 'c' });
  }
}
export class BNRE extends NRE {
  constructor(options: Omit<NREOptions, 'variant'>) {
    super({ ...options, variant: 'bnre' });
  }
}

/** A simulator for SNRE: x [rows, xDim] for θ [rows, dim]; `seed` keys its randomness. */
export type SNRESimulator = SimulatorFunction;

export interface SNREOptions extends NREOptions {
  simulator: SNRESimulator;
}

export interface SNRERunOptions {
  rounds: number;
  /** Simulations of every round, or one count per round. */
  simulationsPerRound: number | readonly number[];
  /** The observation x_o [xDim] the later rounds focus on. */
  x: ArrayLike<number>;
  seed: number | bigint;
  /** Training settings of every round (seed and signal excepted); `backend` trains on a device (op nre.train). */
  train?: Omit<NRETrainOptions, 'seed' | 'signal'>;
  /**
   * MCMC settings for drawing the proposals of rounds 2, 3, ...; `backend` evaluates their
   * potential log r(θ, x_o) there (op nre.log_ratio), and the returned posterior's too.
   */
  mcmc?: Pick<MCMCSampleOptions, 'chains' | 'warmup' | 'thin' | 'init' | 'onProgress' | 'backend'>;
  /** Called after each round with its summary. */
  onRound?: (round: SNRERoundSummary) => void;
  signal?: AbortSignal;
}

export interface SNRERoundSummary {
  round: number;
  simulations: number;
  excludedSimulations: number;
  training: NRETrainSummary;
}

/**
 * Sequential NRE (Hermans et al. 2020; Durkan et al. 2020): round 1 simulates θ ~ prior, round r
 * > 1 θ ~ the current posterior at x_o (MCMC); every round retrains from scratch on all
 * simulations so far. As sbi's SNRE, the posterior keeps the prior: p(θ | x_o) ∝ r(θ, x_o) p(θ).
 * Why that stays correct with proposals: docs/nre.md. The rounds (and their seeds) are
 * `runRounds`'s (src/inference/sequential.ts), as SNPE's and SNLE's. On a device, `train.backend`
 * trains each round's classifier there (nre.train) and `mcmc.backend` evaluates the proposals'
 * and the final posterior's potential there (nre.log_ratio); the slice sampler's chains and seeds
 * are the CPU's (docs/backends.md).
 */
export class SNRE {
  readonly nre: NRE;
  private readonly simulator: SNRESimulator;

  constructor(options: SNREOptions) {
    if (typeof options !== 'object' || options === null || typeof options.simulator !== 'function') {
      throw new TypeError(`Expected an options object with \`prior\` and a \`simulator\` function but received ${describe(options?.simulator)}`);
    }
    this.simulator = options.simulator;
    this.nre = new NRE(options);
  }

  async run(options: SNRERunOptions): Promise<{ posterior: MCMCPosterior; rounds: SNRERoundSummary[] }> {
    if (typeof options !== 'object' || options === null) throw new TypeError(`Expected an options object for \`run\` but received ${describe(options)}`);
    const xo = Float64Array.from(checkObservation(options.x));
    const signal = options.signal ? { signal: options.signal } : {};
    const summaries: SNRERoundSummary[] = [];
    let training: NRETrainSummary | undefined;
    const posterior = await runRounds<MCMCPosterior>({
      prior: this.nre.prior,
      simulator: this.simulator,
      rounds: options.rounds,
      simulationsPerRound: options.simulationsPerRound,
      seed: options.seed,
      proposal: async (_round, n, seed, previous) => (await previous.sample(n, { ...options.mcmc, x: xo, seed, ...signal })).samples,
      append: (theta, x) => this.nre.appendSimulations(theta, x, xo.length).lastAppend,
      train: async (_round, seed) => {
        training = await this.nre.train({ ...options.train, seed, ...signal });
      },
      build: () => this.nre.buildPosterior(options.mcmc?.backend !== undefined ? { backend: options.mcmc.backend } : {}),
      onRound: (info) => {
        const summary = { round: info.round, simulations: info.added, excludedSimulations: info.excluded, training: training! };
        summaries.push(summary);
        options.onRound?.(summary);
      },
      ...signal,
    });
    return { posterior, rounds: summaries };
  }
}

const NRE_VARIANTS: readonly NREVariant[] = ['a', 'b', 'c', 'bnre'];
/**
 * Version of the NRE layout inside the container (metadata.nreFileVersion): 1 without an
 * embedding network; 2 with one (metadata.embedding, tensor embeddingParams), which older builds
 * refuse rather than misread. Both are read.
 */
const NRE_FILE_VERSION = 1;
const NRE_EMBEDDING_FILE_VERSION = 2;

const invalid = (why: string) => new SbiError(`Invalid NRE model file: ${why}`, 'INVALID_MODEL_FILE');

function checkNonNegative(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new RangeError(`Expected a non-negative number for \`${name}\` but received ${describe(value)}`);
  }
  return value;
}

function checkObservation(x: unknown): ArrayLike<number> {
  const isArray = Array.isArray(x) || (ArrayBuffer.isView(x) && !(x instanceof DataView));
  if (!isArray || (x as ArrayLike<unknown>).length === 0) throw new TypeError(`Expected the observation \`x\` (an array of numbers) but received ${describe(x)}`);
  const xs = x as ArrayLike<unknown>;
  for (let j = 0; j < xs.length; j++) {
    if (typeof xs[j] !== 'number' || !Number.isFinite(xs[j] as number)) throw new RangeError(`Expected finite numbers in \`x\` but index ${j} is ${describe(xs[j])}`);
  }
  return xs as ArrayLike<number>;
}
