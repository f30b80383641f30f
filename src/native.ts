/** Loads the compiled addon (build/Release/sbi_engine.node) and hands it the error class. */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { SbiError } from './errors.js';

export interface NativeSimulateOptions {
  name: string;
  theta: Float64Array;
  n: number;
  seed: number | bigint;
  streamOffset?: number | bigint;
  x: Float32Array;
  failed: Uint8Array;
  jointLogLikelihood?: Float64Array;
  jointScore?: Float64Array;
  jointLogRatio?: Float64Array;
  thetaRef?: Float64Array;
  design?: Float64Array;
  threads?: number;
}

export interface NativeSimulatorInfo {
  name: string;
  thetaDim: number;
  xDim: number;
  designDim: number;
  gold: boolean;
}

/** Options of the lattice HMC baselines (`phi4Hmc`, `u1Hmc`): trajectory t of chain c draws from Philox stream c·2³² + stepOffset + t of seed. */
export interface NativeHmcOptions {
  seed: number | bigint;
  steps: number;
  leapfrogSteps: number;
  stepSize: number;
  /** Per-trajectory step size stepSize·(1 + stepJitter·(2u − 1)), stepJitter in [0, 1) (default 0). */
  stepJitter?: number;
  stepOffset?: number;
  threads?: number;
}

export type NnArray = Float64Array | Float32Array;
export type NnActivation = 'identity' | 'relu' | 'tanh' | 'elu' | 'silu';
/** Adam hyperparameters; defaults as in torch.optim.Adam. */
export interface NnAdamOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  decoupled?: boolean;
}

export interface NativeCrossValidateOptions {
  seed: number | bigint;
  folds: number;
  hiddenWidth?: number;
  maxEpochs?: number;
  threads?: number;
}

export interface NativeCrossValidateResult {
  accuracy: Float64Array;
  epochs: Float64Array;
  /** epoch-mean training loss (BCE + L2 term) of the first and the last epoch */
  firstLoss: Float64Array;
  lastLoss: Float64Array;
}

/** Options of `mafTrain`; defaults are sbi's (batch 200, lr 5e-4, 10 % validation, 20 epochs patience, clip 5). */
export interface NativeMafTrainOptions {
  seed: number | bigint;
  /** Epoch cap (default 2^31 − 1, as sbi: early stopping ends training). */
  maxEpochs?: number;
  batchSize?: number;
  learningRate?: number;
  validationFraction?: number;
  /** Epochs without a lower validation loss before stopping (default 20). */
  stopAfterEpochs?: number;
  clipMaxNorm?: number;
  threads?: number;
  /**
   * Jointly trained ReLU embedding of x: widths [xDim, ..., contextDim] for mafTrain
   * (kernels/flows/maf_embedding.h), [xDim, ..., E] for nreTrain (kernels/nn/ratio_embedding.h).
   */
  embeddingSizes?: Int32Array;
  /** Its initial parameters (kernels/nn/mlp.h layout); required with embeddingSizes. */
  embeddingParams?: Float32Array;
}

/** Mean −log q(θ | x) of the original θ (z-scoring's Jacobian included) after an epoch. */
export interface NativeEpochLosses {
  epoch: number;
  trainLoss: number;
  validationLoss: number;
}

export interface NativeMafTrainResult {
  /** The parameters of the epoch with the lowest validation loss. */
  params: Float32Array;
  epochs: number;
  bestEpoch: number;
  bestValidationLoss: number;
  trainLoss: Float64Array;
  validationLoss: Float64Array;
  /** z-scoring of θ and x: column means and standard deviations of the training rows. */
  thetaMean: Float64Array;
  thetaStd: Float64Array;
  xMean: Float64Array;
  xStd: Float64Array;
  /** The best epoch's embedding parameters (only when trained with embeddingSizes). */
  embeddingParams?: Float32Array;
}

/** NRE's loss (kernels/nn/ratio_loss.h): variant, NRE-B atoms / NRE-C classes, NRE-C's γ, BNRE's λ. */
export interface NativeRatioLoss {
  variant: 'a' | 'b' | 'c' | 'bnre';
  classes?: number;
  gamma?: number;
  lambda?: number;
}

/** The classifier's fit: like NativeMafTrainResult, losses being the NRE loss per row. */
export type NativeRatioTrainResult = NativeMafTrainResult;

export type ProgressCallback = (done: number, total: number) => void;

export interface NativeAddon {
  init(options: { SbiError: typeof SbiError }): void;
  runtimeInfo(): { hardwareThreads: number; defaultThreads: number; detectedIsa: string; activeIsa: string };
  setThreads(threads: number): void;
  setIsa(isa: string): void;
  philox4x32(counters: Uint32Array, key: Uint32Array, out: Uint32Array): void;
  sample(
    distribution: string, params: Float64Array, n: number, seed: number | bigint,
    streamOffset: number | bigint, out: Float64Array, threads?: number,
  ): void;
  sampleAsync(
    distribution: string, params: Float64Array, n: number, seed: number | bigint,
    streamOffset: number | bigint, out: Float64Array, threads: number | undefined,
    onProgress: ProgressCallback | undefined, cancelFlag: Int32Array | undefined,
  ): Promise<void>;
  /**
   * Prior draws (kernels/random/prior.h): `parts` holds (kind, dim, params offset) triples with
   * kind 0 boxUniform, 1 normal, 2 logNormal, 3 multivariate normal (loc, Cholesky factor);
   * out is [n, Σ dim]; row i uses Philox stream streamOffset + i.
   */
  samplePrior(
    parts: Int32Array, params: Float64Array, n: number, seed: number | bigint,
    streamOffset: number | bigint, out: Float64Array, threads?: number,
  ): void;
  simulators(): NativeSimulatorInfo[];
  simulate(options: NativeSimulateOptions): number;
  simulateAsync(
    options: NativeSimulateOptions, onProgress: ProgressCallback | undefined, cancelFlag: Int32Array | undefined,
  ): Promise<number>;
  /**
   * Noise-free summaries of the ODE simulators before observation noise — 'sir': I(t_k) in
   * persons (10 values); 'lotka_volterra': prey then predator at t_k (20 values) — for θ
   * [n, thetaDim] into out [n, summaryDim]. rtol / atol default to the simulator's. Returns the
   * number of failed solves; their rows are NaN.
   */
  odeSolution(
    task: string, theta: Float64Array, n: number, rtol: number | undefined, atol: number | undefined,
    out: Float64Array,
  ): number;
  /** Branch-free kernels/common/vecmath.h functions on the active ISA path (for tests). */
  vecmath(
    name: 'exp' | 'log' | 'expflush' | 'logapprox' | 'expm1' | 'tanh' | 'logistic' | 'expm1f' | 'tanhf' | 'logisticf',
    x: Float64Array,
    out: Float64Array,
  ): void;
  vecmath(name: 'sincos2pi', x: Float64Array, out: Float64Array, out2: Float64Array): void;
  /** Bulk samplers vs. the sequential draws they must equal (for tests); out holds n + 3 values. */
  samplerFill(
    kind: 'normal' | 'uniform', seed: number | bigint, stream: number | bigint, leadWords: number, n: number,
    out: Float64Array, sequential: boolean,
  ): void;
  /*
   * Neural-network kernels of kernels/nn/ on whole arrays (native/nn_ops.cc), for tests. Each
   * runs the double instantiation on Float64Arrays and the float one on Float32Arrays; all
   * floating-point arrays of a call share one type. Layouts: batches [n, dim] row-major, W
   * [outDim, inDim]. Math: docs/nn.md.
   */
  /** y = act(x · wᵀ + b); pre receives x · wᵀ + b (required for 'silu', optional otherwise). */
  nnDenseForward<A extends NnArray>(
    activation: NnActivation, n: number, inDim: number, outDim: number, x: A, w: A, b: A, y: A, pre?: A | null,
  ): void;
  /** dx (optional), dw, db (overwritten, summed over the batch) from dy; y unused for 'identity', pre used only for 'silu'. */
  nnDenseBackward<A extends NnArray>(
    activation: NnActivation, n: number, inDim: number, outDim: number, x: A, w: A, y: A | null, pre: A | null,
    dy: A, dx: A | null, dw: A, db: A,
  ): void;
  /** Pre-activation residual block y = x + W2·act(W1·act(x) + b1) + b2; saved [3·n·dim] for the backward. */
  nnResidualForward<A extends NnArray>(
    activation: NnActivation, n: number, dim: number, x: A, w1: A, b1: A, w2: A, b2: A, saved: A, y: A,
  ): void;
  nnResidualBackward<A extends NnArray>(
    activation: NnActivation, n: number, dim: number, x: A, w1: A, w2: A, saved: A, dy: A,
    dx: A, dw1: A, db1: A, dw2: A, db2: A,
  ): void;
  /** Column means and standard deviations (n - 1 denominator, floored at minStd) of x [n, dim]. */
  nnStandardizeFit<A extends NnArray>(n: number, dim: number, x: A, minStd: number, mean: A, std: A): void;
  /** 'forward': output = (input - mean) / std; 'backward': output = input / std. */
  nnStandardize<A extends NnArray>(
    direction: 'forward' | 'backward', n: number, dim: number, mean: A, std: A, input: A, output: A,
  ): void;
  /** Batch-mean loss; grad (optional) receives its gradient w.r.t. pred. */
  nnLoss<A extends NnArray>(kind: 'bce' | 'mse', n: number, dim: number, pred: A, target: A, grad?: A | null): number;
  nnLoss<A extends NnArray>(kind: 'cross_entropy', n: number, dim: number, pred: A, target: Int32Array, grad?: A | null): number;
  /**
   * MLP (kernels/nn/mlp.h): sizes [L + 1] layer widths, `activation` after each hidden layer,
   * identity after the last; params flat (W_l [sizes[l+1], sizes[l]], then b_l, per layer);
   * saved keeps the layer outputs (and, for 'silu', hidden pre-activations) for the backward;
   * out [n, sizes[L]] receives the output.
   */
  nnMlpForward<A extends NnArray>(
    activation: NnActivation, sizes: Int32Array, n: number, x: A, params: A, saved: A, out: A,
  ): void;
  /** Parameter gradients (overwritten, summed over the batch) from dout [n, sizes[L]]. */
  nnMlpBackward<A extends NnArray>(
    activation: NnActivation, sizes: Int32Array, n: number, x: A, params: A, saved: A, dout: A, grads: A,
  ): void;
  /** One Adam (decoupled: false) or AdamW (decoupled: true) step, step = 1, 2, ...; updates params, m, v in place. */
  nnAdamStep<A extends NnArray>(params: A, grads: A, m: A, v: A, step: number, options: NnAdamOptions): void;
  /** Scales grads by maxNorm / ‖grads‖ when ‖grads‖ > maxNorm; returns ‖grads‖ before clipping. */
  nnClipGradNorm(grads: NnArray, maxNorm: number): number;
  /**
   * Elementwise flow transforms of kernels/flows/ over n elements, in the arrays' precision
   * (all Float64Array or all Float32Array). 'rqSpline': hyper = [bins, bound, minBinWidth,
   * minBinHeight, minDerivative], params [n, 3·bins − 1]; 'affine': hyper = [scaleBound], params
   * [n, 2]. 'forward' writes y and the elementwise log|dy/dx| (either may be null to run the
   * value-only or log-det-only kernel); 'inverse' takes y in `x` and writes x and log|dx/dy|.
   */
  flowTransform<A extends Float64Array | Float32Array>(
    transform: 'rqSpline' | 'affine', direction: 'forward' | 'inverse', hyper: Float64Array, x: A, params: A,
    y: A | null, ladj: A | null,
  ): void;
  /** Backward of the forward pass: dL/dx [n] and dL/dparams [n, P] from dL/dy and dL/dlog|dy/dx| [n]. */
  flowTransformBackward<A extends Float64Array | Float32Array>(
    transform: 'rqSpline' | 'affine', hyper: Float64Array, x: A, params: A, gy: A, gl: A, gx: A, gparams: A,
  ): void;
  /**
   * k-fold cross-validated accuracy of sklearn's default MLPClassifier (two ReLU hidden layers of
   * hiddenWidth units, default 10·dim; Adam; L2 1e-4; batches of 200; stop after 11 epochs
   * without a 1e-4 loss improvement, or maxEpochs, default 10000) on x [n, dim] with labels
   * 0 / 1. One entry per fold in each array.
   */
  classifierCrossValidate(
    x: Float64Array, labels: Uint8Array, n: number, dim: number, options: NativeCrossValidateOptions,
  ): NativeCrossValidateResult;
  classifierCrossValidateAsync(
    x: Float64Array, labels: Uint8Array, n: number, dim: number, options: NativeCrossValidateOptions,
    onProgress: ProgressCallback | undefined, cancelFlag: Int32Array | undefined,
  ): Promise<NativeCrossValidateResult>;
  /**
   * The classifier's network kernels (kernels/nn/relu_sparse.h: a ReLU MLP that skips ReLU's
   * zeros), for tests: forward into out [n, sizes[L]], then the gradients for dout into grads
   * (mlp.h's layout; padding entries left as given). sizes: storage widths, widths: logical ones.
   */
  nnReluMlpSparse<A extends NnArray>(
    sizes: Int32Array, widths: Int32Array, n: number, x: A, params: A, dout: A, out: A, grads: A,
  ): void;
  /**
   * Conditional MAF / autoregressive spline flow (kernels/flows/maf.h, native/maf.cc), in the
   * precision of `params`. arch = [dim, contextDim, hidden, hiddenLayers, layers, activation]
   * (activation 0 identity, 1 relu, 2 tanh, 3 elu, 4 silu); transform and hyper as flowTransform.
   * params: the layers' MADE vectors one after another (docs/flows.md), masked weights exactly 0.
   * x: one context [contextDim] for every row or [n, contextDim]; may be null if contextDim = 0.
   */
  mafParamCount(arch: Int32Array, transform: 'rqSpline' | 'affine', hyper: Float64Array): number;
  /** mask[j] = 1 where params[j] is trainable, 0 where it is a masked weight. */
  mafParamMask(arch: Int32Array, transform: 'rqSpline' | 'affine', hyper: Float64Array, mask: Uint8Array): void;
  /** log q(theta | x) per row [n]; the base point u [n, dim] into `base` when given. */
  mafLogProb<A extends Float64Array | Float32Array>(
    arch: Int32Array, transform: 'rqSpline' | 'affine', hyper: Float64Array, params: A, theta: A, x: A | null,
    logProb: A, base?: A | null,
  ): void;
  /** Mean −log q(theta | x) over the rows (returned) and its gradients (overwritten). */
  mafLogProbBackward<A extends Float64Array | Float32Array>(
    arch: Int32Array, transform: 'rqSpline' | 'affine', hyper: Float64Array, params: A, theta: A, x: A | null,
    gParams: A, gTheta?: A | null, gX?: A | null,
  ): number;
  /**
   * Mean −log q(theta | e(x)) of a MAF whose context is a ReLU embedding MLP e (widths
   * embeddingSizes [x width, ..., contextDim]; kernels/flows/maf_embedding.h), and its gradients
   * with respect to the flow's and the embedding's parameters (overwritten). Tests.
   */
  mafEmbeddedLogProbBackward<A extends Float64Array | Float32Array>(
    arch: Int32Array, transform: 'rqSpline' | 'affine', hyper: Float64Array, params: A, embeddingSizes: Int32Array,
    embeddingParams: A, theta: A, x: A, gParams: A, gEmbeddingParams: A,
  ): number;
  /** n draws theta ~ q(theta | x) [n, dim] (row i: Philox stream i of seed) and their log q. */
  mafSample<A extends Float64Array | Float32Array>(
    arch: Int32Array, transform: 'rqSpline' | 'affine', hyper: Float64Array, params: A, x: A | null, n: number,
    seed: number | bigint, theta: A, logProb?: A | null,
  ): void;
  /** The outputs [n, dim, P] of layer `layer`'s MADE at its inputs [n, dim] (in that layer's order). */
  mafConditioner<A extends Float64Array | Float32Array>(
    arch: Int32Array, transform: 'rqSpline' | 'affine', hyper: Float64Array, params: A, layer: number, input: A,
    x: A | null, out: A,
  ): void;
  /**
   * Maximum-likelihood training of a conditional MAF (native/flow_trainer.h) off the event loop:
   * θ and x z-scored with the training rows' statistics, a validation split, Adam, gradient
   * clipping, early stopping; resolves with the best epoch's parameters. A set cancelFlag[0]
   * rejects the promise with SbiError ABORTED within one batch.
   */
  mafTrain(
    arch: Int32Array, transform: 'rqSpline' | 'affine', hyper: Float64Array, params: Float32Array, theta: Float32Array,
    x: Float32Array, options: NativeMafTrainOptions, onEpoch: ((e: NativeEpochLosses) => void) | undefined,
    cancelFlag: Int32Array | undefined,
  ): Promise<NativeMafTrainResult>;
  /** Batch-mean NRE loss of logits [n, per-row logits] and its gradient (tests; native/nre.cc). */
  nreLoss(variant: NativeRatioLoss['variant'], n: number, classes: number, gamma: number, lambda: number,
    logits: Float64Array | Float32Array, grad?: Float64Array | Float32Array): number;
  /** The ReLU residual classifier arch = [in, hidden, blocks]: y [n] and, with dy, the parameter gradient (tests). */
  nreNetForward(arch: Int32Array, n: number, params: Float64Array | Float32Array, x: Float64Array | Float32Array,
    y: Float64Array | Float32Array, dy?: Float64Array | Float32Array, grads?: Float64Array | Float32Array): void;
  /** Trains the ratio classifier arch = [thetaDim, xDim, hidden, blocks] off the event loop (native/ratio_trainer.h). */
  nreTrain(arch: Int32Array, loss: NativeRatioLoss, theta: Float64Array, x: Float64Array, options: NativeMafTrainOptions,
    onEpoch: ((e: NativeEpochLosses) => void) | undefined, cancelFlag: Int32Array | undefined): Promise<NativeRatioTrainResult>;
  /** out[i] = log r(θ_i, x_i); x holds one row per θ row or a single observation for all. */
  nreLogRatio(arch: Int32Array, params: Float32Array, thetaMean: Float64Array, thetaStd: Float64Array, xMean: Float64Array,
    xStd: Float64Array, theta: Float64Array, x: Float64Array, out: Float64Array, threads?: number,
    embeddingSizes?: Int32Array, embeddingParams?: Float32Array): void;
  /**
   * The batch-mean loss of the classifier on [θ, e(x)] (kernels/nn/ratio_embedding.h; arch =
   * [thetaDim, hidden, blocks]), pair p scoring x row ⌊p / A⌋ against θ row pairTheta[p]; the
   * gradients of the classifier's and the embedding's parameters are overwritten (tests).
   */
  nreEmbeddedLossBackward(loss: NativeRatioLoss, arch: Int32Array, embeddingSizes: Int32Array,
    params: Float64Array | Float32Array, embeddingParams: Float64Array | Float32Array, theta: Float64Array | Float32Array,
    x: Float64Array | Float32Array, pairTheta: Int32Array, grads: Float64Array | Float32Array,
    embeddingGrads: Float64Array | Float32Array): number;
  /** Mixture density network head shape = [dim, components]: log q(y_i | out_i) and ∂ Σ log q / ∂out (tests; native/mdn.cc). */
  mdnHead(shape: Int32Array, out: Float64Array | Float32Array, y: Float64Array | Float32Array, logProb: Float64Array | Float32Array,
    dOut?: Float64Array | Float32Array): void;
  /** The whole MDN arch = [dim, context, hidden, hiddenLayers, components] on z-scored rows; grads = ∂ Σ log q / ∂params (tests). */
  mdnNetLogProb(arch: Int32Array, params: Float64Array | Float32Array, context: Float64Array | Float32Array, y: Float64Array | Float32Array,
    logProb: Float64Array | Float32Array, grads?: Float64Array | Float32Array): void;
  /** Trains an MDN q(y | context) off the event loop (native/mdn_trainer.h); theta* statistics are y's, x* the context's. */
  mdnTrain(arch: Int32Array, y: Float64Array, context: Float64Array, options: NativeMafTrainOptions,
    onEpoch: ((e: NativeEpochLosses) => void) | undefined, cancelFlag: Int32Array | undefined): Promise<NativeMafTrainResult>;
  /** log q(y_i | context) of z-scored rows; context holds one row for all or one per row. */
  mdnLogProb(arch: Int32Array, params: Float32Array, y: Float32Array, context: Float32Array, logProb: Float32Array, threads?: number): void;
  /** n draws y ~ q(y | context) (row i: Philox stream i of seed). */
  mdnSample(arch: Int32Array, params: Float32Array, context: Float32Array, n: number, seed: number | bigint, y: Float32Array, threads?: number): void;
  /** S(φ) of each configuration [n·L·L] (and ∂S/∂φ with grad) of φ⁴ theory, coupling = [m², λ] (native/lattice_phi4.cc). */
  phi4Action<A extends Float64Array | Float32Array>(L: number, coupling: Float64Array, phi: A, action: A, grad?: A): void;
  /** HMC chains of φ⁴ theory from phi [chains·L·L] (overwritten by the last states); records [chains·steps]. */
  phi4Hmc(L: number, coupling: Float64Array, phi: Float64Array, options: NativeHmcOptions, magnetization: Float64Array,
    action: Float64Array, accepted: Uint8Array): void;
  phi4HmcAsync(L: number, coupling: Float64Array, phi: Float64Array, options: NativeHmcOptions, magnetization: Float64Array,
    action: Float64Array, accepted: Uint8Array, onProgress: ((done: number, total: number) => void) | undefined,
    cancelFlag: Int32Array | undefined): Promise<void>;
  /** S(θ) = −β Σ cos P of each configuration [n·2·L·L] of U(1) link angles, with grad ∂S/∂θ and charge Q (native/lattice_u1.cc). */
  u1Action<A extends Float64Array | Float32Array>(L: number, beta: number, theta: A, action: A, grad?: A, charge?: A): void;
  /** HMC chains of U(1) gauge theory from theta [chains·2·L·L] (overwritten by the last states); records Q and S [chains·steps]. */
  u1Hmc(L: number, beta: number, theta: Float64Array, options: NativeHmcOptions, charge: Float64Array,
    action: Float64Array, accepted: Uint8Array): void;
  u1HmcAsync(L: number, beta: number, theta: Float64Array, options: NativeHmcOptions, charge: Float64Array,
    action: Float64Array, accepted: Uint8Array, onProgress: ((done: number, total: number) => void) | undefined,
    cancelFlag: Int32Array | undefined): Promise<void>;
  /** Circular 2-D convolution, shape = [n, cIn, cOut, L0, L1, K] (native/lattice_conv.cc). */
  conv2dCircular<A extends Float64Array | Float32Array>(shape: Int32Array, weight: A, bias: A, x: A, y: A): void;
  /** Its backward: gx overwritten (unless undefined), gweight / gbias overwritten by the batch sums. */
  conv2dCircularBackward<A extends Float64Array | Float32Array>(shape: Int32Array, weight: A, x: A, gy: A, gx: A | undefined,
    gweight: A, gbias: A): void;
  /** Checkerboard affine coupling flow for φ⁴ (native/lattice_flow.cc), shape = [L, layers, hidden, depth, K]. */
  phi4FlowInit(shape: Int32Array, seed: number | bigint, params: Float64Array): void;
  phi4FlowForward(shape: Int32Array, params: Float64Array, z: Float64Array, phi: Float64Array, logq: Float64Array, threads?: number): void;
  phi4FlowInverse(shape: Int32Array, params: Float64Array, phi: Float64Array, z: Float64Array, logq: Float64Array, threads?: number): void;
  phi4FlowLossGrad(shape: Int32Array, coupling: Float64Array, params: Float64Array, z: Float64Array, grad: Float64Array, gz?: Float64Array): number;
  phi4FlowTrain(shape: Int32Array, coupling: Float64Array, params: Float64Array,
    options: { seed: number | bigint; steps: number; batchSize: number; learningRate: number; threads?: number },
    onStep: ((e: NativeEpochLosses) => void) | undefined, cancelFlag: Int32Array | undefined):
    Promise<{ params: Float64Array; loss: Float64Array; ess: Float64Array }>;
  phi4FlowSample(shape: Int32Array, coupling: Float64Array, params: Float64Array,
    options: { seed: number | bigint; n: number; offset?: number; threads?: number; symmetric?: boolean },
    magnetization: Float64Array, action: Float64Array, logq: Float64Array, phi: Float64Array | undefined): void;
  phi4FlowSampleAsync(shape: Int32Array, coupling: Float64Array, params: Float64Array,
    options: { seed: number | bigint; n: number; offset?: number; threads?: number; symmetric?: boolean },
    magnetization: Float64Array, action: Float64Array, logq: Float64Array, phi: Float64Array | undefined,
    onProgress: ((done: number, total: number) => void) | undefined, cancelFlag: Int32Array | undefined): Promise<void>;
  /** Gauge-equivariant U(1) flow (native/lattice_flow.cc), shape = [L, layers, hidden, depth, K, components], coupling = [β]. */
  u1FlowInit(shape: Int32Array, seed: number | bigint, params: Float64Array): void;
  u1FlowForward(shape: Int32Array, params: Float64Array, z: Float64Array, theta: Float64Array, logq: Float64Array, threads?: number): void;
  u1FlowInverse(shape: Int32Array, params: Float64Array, theta: Float64Array, z: Float64Array, logq: Float64Array, threads?: number): void;
  u1FlowLossGrad(shape: Int32Array, coupling: Float64Array, params: Float64Array, z: Float64Array, grad: Float64Array, gz?: Float64Array): number;
  u1FlowTrain(shape: Int32Array, coupling: Float64Array, params: Float64Array,
    options: { seed: number | bigint; steps: number; batchSize: number; learningRate: number; threads?: number },
    onStep: ((e: NativeEpochLosses) => void) | undefined, cancelFlag: Int32Array | undefined):
    Promise<{ params: Float64Array; loss: Float64Array; ess: Float64Array }>;
  u1FlowSample(shape: Int32Array, coupling: Float64Array, params: Float64Array,
    options: { seed: number | bigint; n: number; offset?: number; threads?: number },
    charge: Float64Array, action: Float64Array, logq: Float64Array, theta: Float64Array | undefined): void;
  u1FlowSampleAsync(shape: Int32Array, coupling: Float64Array, params: Float64Array,
    options: { seed: number | bigint; n: number; offset?: number; threads?: number },
    charge: Float64Array, action: Float64Array, logq: Float64Array, theta: Float64Array | undefined,
    onProgress: ((done: number, total: number) => void) | undefined, cancelFlag: Int32Array | undefined): Promise<void>;
  // Modules added by later families extend this interface here.
  [name: string]: unknown;
}

const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

function load(): NativeAddon {
  const candidates = [
    path.join(packageRoot, 'build', 'Release', 'sbi_engine.node'),
    path.join(packageRoot, 'build', 'Debug', 'sbi_engine.node'),
  ];
  let lastError: unknown;
  for (const file of candidates) {
    try {
      const addon = require(file) as NativeAddon;
      addon.init({ SbiError });
      return addon;
    } catch (e) {
      lastError = e;
    }
  }
  throw new SbiError(
    `Could not load the native addon (looked in ${candidates.join(', ')}); run \`npm install\` or \`npm run build\`. ` +
      `Cause: ${lastError instanceof Error ? lastError.message : String(lastError)}`,
    'ADDON_NOT_FOUND',
  );
}

export const native: NativeAddon = load();
export { packageRoot };
