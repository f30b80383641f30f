/**
 * Trainable flows on the torus Tᴰ and the spheres Sᴰ, run natively (kernels/manifold/flow.h,
 * native/manifold_flow.cc, double precision): sampling, log-density, reverse-KL training to an
 * unnormalised target and maximum-likelihood training from samples, with KL, log Z and ESS
 * reports. Rezende et al., "Normalizing flows on tori and spheres", ICML 2020, arXiv:2002.02428.
 *
 * - Angle layers use a circular RQ spline (default), a mixture of Möbius transformations or a
 *   mixture of non-compact projections (`circleTransform`, `components`), kernels/manifold/circle.h.
 * - Torus: coupling layers (layer l updates angles i with (i + l) even, conditioned on cos/sin of
 *   the others through a tanh MLP), or autoregressive blocks (angle i conditioned on the angles
 *   before it, one MLP per angle). Samples are angles in [0, 2π).
 * - Sphere Sᴰ: recursive (cylindrical) flow: interval splines of the heights z_D, .., z_2 (each
 *   conditioned on those above), then circle layers of the azimuth φ conditioned on all heights;
 *   x = (√(1−z_D²) x′, z_D) recursively. Samples are unit vectors in ℝ^{D+1}; log q is with respect
 *   to the area measure (uniform = 1/|Sᴰ|: 1/(4π) on S², 1/(2π²) on S³ ≅ SU(2)).
 */
import { SbiError } from '../errors.js';
import { decodeModelFile, encodeModelFile, type ModelFile } from '../io/model_file.js';
import { ModelFileReader } from '../io/model_reader.js';
import { native } from '../native.js';
import { checkPositiveInteger, describe } from '../validate.js';
import { backendForOp, type BackendRequest } from '../backend/backend.js';
import { manifoldFlowWebGpuSupport } from '../backend/manifold_webgpu.js';
import { trainManifoldFlowWebGpu } from '../backend/manifold_train_webgpu.js';
import { openWebGpu } from '../backend/webgpu.js';

export type ManifoldSpace = 'torus' | 'sphere';
export type ManifoldTarget = 'torus-unimodal' | 'torus-multimodal' | 'torus-correlated' | 'sphere-vmf4' | 'sphere3-vmf4';
/** The elementwise transform of angle layers: circular RQ spline, Möbius mixture, NCP mixture. */
export type CircleTransformKind = 'spline' | 'moebius' | 'ncp';
export type TorusConditioner = 'coupling' | 'autoregressive';

export interface ManifoldFlowSpec {
  space: ManifoldSpace;
  /** D of Tᴰ or Sᴰ (2..16). */
  dim: number;
  /** Torus: coupling layers, or autoregressive blocks of D layers; sphere: circle layers after the D − 1 interval layers (default 4). */
  layers: number;
  /** Spline bins, of the circle splines and the interval splines (default 8). */
  bins: number;
  /** Hidden units and hidden layers of each tanh MLP (default 32, 2). */
  hidden: number;
  hiddenLayers: number;
  /** Transform of the angle layers (default 'spline'). */
  circleTransform: CircleTransformKind;
  /** Mixture components of 'moebius' / 'ncp' (default 4). */
  components: number;
  /** Torus layers: 'coupling' (default) or 'autoregressive'; spheres are recursive ('coupling'). */
  conditioner: TorusConditioner;
}

/** A spec with defaults left out (the constructor fills them in). */
export type ManifoldFlowOptions = Partial<ManifoldFlowSpec> & { space: ManifoldSpace };

/**
 * An unnormalised target log-density written in TypeScript: given n points (rows of the space's
 * coordinates: angles in [0, 2π) on a torus, unit vectors in ℝ^{D+1} on a sphere), log p̃ [n] and
 * its gradient [n, width] with respect to those coordinates (on a sphere any extension off the
 * sphere: only the tangential part is used). Called once per training step with the whole batch.
 */
export type TargetFunction = (points: Float64Array, n: number) => { logDensity: Float64Array; gradient: Float64Array };

export interface FlowTrainOptions {
  /** 'reverseKl' (default) needs `target`; 'nll' needs `data` (rows of angles or unit vectors). */
  loss?: 'reverseKl' | 'nll';
  /** A native target (by name) or a TypeScript function (TargetFunction). */
  target?: ManifoldTarget | TargetFunction;
  data?: Float64Array;
  steps: number;
  batchSize?: number;
  learningRate?: number;
  /** Global gradient-norm clip (default: none). */
  clipMaxNorm?: number;
  seed?: number | bigint;
  /** Progress every `reportEvery` steps (default steps / 100). */
  reportEvery?: number;
  /** Flow draws for the final KL / log Z / ESS (default 4096). */
  evalSize?: number;
  threads?: number;
  onProgress?: (p: { step: number; steps: number; loss: number }) => void;
  signal?: AbortSignal;
  /**
   * Where to train (op manifold.flow_train): 'cpu' (the default, double precision); 'webgpu'
   * (f32 on the device; reverse KL to a native `target` only); 'auto' (the device when it is a
   * GPU and the training is a native target's, else the CPU).
   */
  backend?: BackendRequest;
}

export interface FlowEvaluation {
  /** E_q[log q − log p̃] (≥ −log Z). */
  kl: number;
  /** log Z ≈ log mean exp(log p̃ − log q). */
  logZ: number;
  /** KL(q ‖ p) ≈ kl + logZ, with p = p̃ / Z. */
  klNormalised: number;
  /** (Σw)² / (n Σw²) · 100 with w = p̃ / q. */
  ess: number;
  samples: number;
}

export interface FlowTrainResult {
  steps: number;
  historyStep: Float64Array;
  historyLoss: Float64Array;
  evaluation?: FlowEvaluation;
  /** Mean −log q over `data` after training ('nll'). */
  nll?: number;
}

/** One layer of a flow's shape (kernels/manifold/flow.h FlowLayer). */
export interface ManifoldFlowLayerLayout {
  /** Interval spline of heights, else the flow's circle transform of angles. */
  interval: boolean;
  perElement: number;
  /** State indices the layer transforms, and those its conditioner reads (empty: constants). */
  active: number[];
  cond: number[];
  /** The conditioner's tanh MLP widths (empty for constants). */
  sizes: number[];
  paramOffset: number;
  paramCount: number;
}

/** A flow's shape as the native kernels build it (make_torus_shape / make_sphere_shape). */
export interface ManifoldFlowLayout {
  space: ManifoldSpace;
  dim: number;
  coords: number;
  isAngle: boolean[];
  circleKind: CircleTransformKind;
  bins: number;
  components: number;
  minBinWidth: number;
  minBinHeight: number;
  minDerivative: number;
  minAlpha: number;
  /** log of the uniform base density: −D log 2π, or −log|Sᴰ|. */
  baseLogDensity: number;
  layers: ManifoldFlowLayerLayout[];
}

interface ManifoldFlowNative {
  manifoldFlowInfo(spec: ManifoldFlowSpec): { paramCount: number; coords: number; outputWidth: number };
  manifoldFlowLayout(spec: ManifoldFlowSpec): ManifoldFlowLayout;
  manifoldFlowInit(spec: ManifoldFlowSpec, seed: number | bigint, params: Float64Array): void;
  manifoldFlowSample(spec: ManifoldFlowSpec, params: Float64Array, n: number, seed: number | bigint, stream: number | bigint,
    x: Float64Array, logq: Float64Array, threads?: number, base?: Float64Array): void;
  manifoldFlowLogProb(spec: ManifoldFlowSpec, params: Float64Array, x: Float64Array, logq: Float64Array, threads?: number, base?: Float64Array): void;
  manifoldFlowLoss(spec: ManifoldFlowSpec, params: Float64Array, options: object, grad: Float64Array): number;
  manifoldFlowTabulatedLoss(spec: ManifoldFlowSpec, params: Float64Array, options: object, logp: Float64Array, gradLogp: Float64Array, grad: Float64Array): number;
  manifoldFlowTrain(spec: ManifoldFlowSpec, params: Float64Array, options: object,
    onProgress?: (p: { step: number; steps: number; loss: number }) => void, cancel?: Int32Array): Promise<FlowTrainResult & { params: Float64Array }>;
}
const kernels = native as unknown as ManifoldFlowNative;

export const MODEL_KIND = 'manifold-flow';

export class ManifoldFlow {
  readonly spec: ManifoldFlowSpec;
  readonly paramCount: number;
  /** Base-space coordinates per row: D angles, or (z_D, .., z_2, φ) on Sᴰ. */
  readonly coords: number;
  /** Width of a sample row: D angles, or D + 1 for Sᴰ. */
  readonly outputWidth: number;
  params: Float64Array;

  /** A fresh flow with Philox-initialised parameters (docs/manifold.md), or the given ones. */
  constructor(spec: ManifoldFlowOptions, seed: number | bigint = 0, params?: Float64Array) {
    const space = spec.space;
    if (space !== 'torus' && space !== 'sphere') throw new RangeError(`Expected "torus" or "sphere" for \`space\` but received ${describe(space)}`);
    this.spec = {
      space,
      dim: spec.dim ?? 2,
      layers: spec.layers ?? 4,
      bins: spec.bins ?? 8,
      hidden: spec.hidden ?? 32,
      hiddenLayers: spec.hiddenLayers ?? 2,
      circleTransform: spec.circleTransform ?? 'spline',
      components: spec.components ?? 4,
      conditioner: spec.conditioner ?? 'coupling',
    };
    const info = kernels.manifoldFlowInfo(this.spec);
    this.paramCount = info.paramCount;
    this.coords = info.coords;
    this.outputWidth = info.outputWidth;
    if (params) {
      if (!(params instanceof Float64Array) || params.length !== this.paramCount) {
        throw new RangeError(`Expected a Float64Array of ${this.paramCount} parameters but received ${describe(params)}`);
      }
      this.params = params.slice();
    } else {
      this.params = new Float64Array(this.paramCount);
      kernels.manifoldFlowInit(this.spec, seed, this.params);
    }
  }

  /** The flow's layers, coordinates and element settings, as the native kernels lay them out. */
  layout(): ManifoldFlowLayout {
    return kernels.manifoldFlowLayout(this.spec);
  }

  /** n samples [n, outputWidth] and their log q; row i uses Philox stream `stream` of seed, counters from i·coords. */
  sample(n: number, seed: number | bigint, options: { stream?: number | bigint; threads?: number } = {}): { x: Float64Array; logProb: Float64Array } {
    checkPositiveInteger(n, 'n');
    const x = new Float64Array(n * this.outputWidth);
    const logProb = new Float64Array(n);
    kernels.manifoldFlowSample(this.spec, this.params, n, seed, options.stream ?? 0, x, logProb, options.threads);
    return { x, logProb };
  }

  /**
   * `sample` on a backend (op manifold.flow_sample): 'cpu' (the default) is `sample`; 'webgpu'
   * runs kernels/manifold/manifold_flow.wgsl in f32 from the same Philox words, so the points
   * agree with the CPU's within the op's tolerance (angles modulo 2π); 'auto' takes the CPU where
   * the device cannot run the flow. `train` takes a `backend` too.
   */
  async sampleAsync(n: number, seed: number | bigint, options: { stream?: number | bigint; threads?: number; backend?: BackendRequest } = {}): Promise<{ x: Float64Array; logProb: Float64Array }> {
    const backend = await this.backendFor(options.backend, 'manifold.flow_sample');
    if (backend === null) return this.sample(n, seed, options);
    return backend.manifoldFlowSample(this, n, seed, options.stream ?? 0);
  }

  /** `logProb` on a backend (op manifold.flow_log_prob), as `sampleAsync`. */
  async logProbAsync(x: Float64Array, options: { threads?: number; backend?: BackendRequest } = {}): Promise<Float64Array> {
    const backend = await this.backendFor(options.backend, 'manifold.flow_log_prob');
    if (backend === null) return this.logProb(x, options);
    return backend.manifoldFlowLogProb(this, x);
  }

  /** The backend that runs `op` for `request`, or null for the CPU (the native path, with its threads). */
  private async backendFor(request: BackendRequest = 'cpu', op: 'manifold.flow_sample' | 'manifold.flow_log_prob') {
    const backend = await backendForOp(request, op);
    if (backend.name === 'cpu') return null;
    if (backend.name === 'webgpu' && request === 'auto' && manifoldFlowWebGpuSupport(this) !== true) return null;
    return backend;
  }

  /** log q per row of x [N, outputWidth] (angles, or unit vectors in ℝ^{D+1}). */
  logProb(x: Float64Array, options: { threads?: number } = {}): Float64Array {
    return this.inverse(x, options).logProb;
  }

  /** log q per row of x and the base points [N, coords] (angles; (z_D, .., z_2, φ) on Sᴰ) the inverse flow maps x to. */
  inverse(x: Float64Array, options: { threads?: number } = {}): { base: Float64Array; logProb: Float64Array } {
    if (!(x instanceof Float64Array)) throw new TypeError(`Expected a Float64Array for \`x\` but received ${describe(x)}`);
    const n = Math.floor(x.length / this.outputWidth);
    const logProb = new Float64Array(n);
    const base = new Float64Array(n * this.coords);
    kernels.manifoldFlowLogProb(this.spec, this.params, x, logProb, options.threads, base);
    return { base, logProb };
  }

  /** `sample`, also returning the base draws [n, coords] the samples were pushed forward from. */
  sampleWithBase(n: number, seed: number | bigint, options: { stream?: number; threads?: number } = {}): { x: Float64Array; logProb: Float64Array; base: Float64Array } {
    checkPositiveInteger(n, 'n');
    const x = new Float64Array(n * this.outputWidth);
    const logProb = new Float64Array(n);
    const base = new Float64Array(n * this.coords);
    kernels.manifoldFlowSample(this.spec, this.params, n, seed, options.stream ?? 0, x, logProb, options.threads, base);
    return { x, logProb, base };
  }

  /**
   * One training step's batch loss and its gradient with respect to the parameters (at `params`,
   * default the flow's): reverse KL of `batchSize` draws on Philox stream `step`, or the NLL of
   * rows of `data` drawn with replacement.
   */
  lossAndGradient(options: Omit<FlowTrainOptions, 'steps' | 'onProgress' | 'signal'> & { step?: number }, params = this.params): { loss: number; grad: Float64Array } {
    const grad = new Float64Array(this.paramCount);
    const { onProgress: _a, signal: _b, ...rest } = options as FlowTrainOptions;
    const loss = kernels.manifoldFlowLoss(this.spec, params, rest, grad);
    return { loss, grad };
  }

  /**
   * Trains with Adam natively off the event loop; on success the flow holds the trained
   * parameters. A TypeScript target (a function) trains by `trainToFunction`.
   */
  async train(options: FlowTrainOptions): Promise<FlowTrainResult> {
    if (await this.trainsOnDevice(options)) {
      const { params, ...result } = await trainManifoldFlowWebGpu(await openWebGpu(), this, options);
      this.params = params;
      return result;
    }
    if (typeof options?.target === 'function') return this.trainToFunction(options.target, options);
    const { onProgress, signal, backend: _backend, ...rest } = options;
    checkPositiveInteger(options.steps, 'steps');
    const cancel = new Int32Array(1);
    if (signal?.aborted) throw new SbiError('The operation was aborted', 'ABORTED');
    const abort = () => { cancel[0] = 1; };
    signal?.addEventListener('abort', abort);
    try {
      const r = await kernels.manifoldFlowTrain(this.spec, this.params, rest, onProgress, cancel);
      this.params = r.params;
      const { params: _p, ...result } = r;
      return result;
    } finally {
      signal?.removeEventListener('abort', abort);
    }
  }

  /**
   * Whether `train` runs on the WebGPU device: `backend` 'webgpu', or 'auto' with a GPU adapter,
   * for reverse KL to a native target (a TypeScript target or the NLL with 'webgpu' is a
   * RangeError; 'auto' takes the CPU for them). 'cuda' is refused (UNSUPPORTED_OP).
   */
  private async trainsOnDevice(options: FlowTrainOptions): Promise<boolean> {
    const request = options?.backend ?? 'cpu';
    if (request === 'cpu') return false;
    const backend = await backendForOp(request, 'manifold.flow_train');
    if (backend.name === 'cpu') return false;
    const nativeTarget = typeof options.target === 'string' && (options.loss ?? 'reverseKl') === 'reverseKl';
    if (request === 'auto') return nativeTarget && manifoldFlowWebGpuSupport(this) === true;
    if (!nativeTarget) {
      throw new RangeError(`Training on the ${backend.name} backend is by reverse KL to a native \`target\` ("torus-unimodal", …); a TypeScript target function or \`loss\` "nll" trains on the cpu backend`);
    }
    return true;
  }

  /**
   * Reverse-KL training to a TypeScript target: the native trainer's loop with the target's values
   * computed in JS. Each step draws the batch natively (Philox stream `step`), calls `target` once
   * with all of its points, and hands log p̃ and its gradient back to the native backward
   * (manifoldFlowTabulatedLoss: the same chunks and order as a native target); then gradient
   * clipping and Adam (kernels/nn/adam.h). A function computing exactly what a native target
   * computes therefore trains to the same parameters. The event loop runs between steps.
   */
  private async trainToFunction(target: TargetFunction, options: FlowTrainOptions): Promise<FlowTrainResult> {
    const steps = checkPositiveInteger(options.steps, 'steps');
    if ((options.loss ?? 'reverseKl') !== 'reverseKl') throw new RangeError(`A TypeScript \`target\` trains by reverse KL; \`loss\` ${JSON.stringify(options.loss)} takes \`data\` instead`);
    const batch = options.batchSize === undefined ? 256 : checkPositiveInteger(options.batchSize, 'batchSize', 1 << 20);
    const lr = options.learningRate ?? 1e-3;
    if (!(lr > 0 && lr <= 1)) throw new RangeError(`Expected a number in (0, 1] for \`learningRate\` but received ${describe(lr)}`);
    const clip = options.clipMaxNorm ?? Infinity;
    if (!(clip > 0)) throw new RangeError(`Expected a positive number for \`clipMaxNorm\` but received ${describe(clip)}`);
    const reportEvery = options.reportEvery === undefined ? Math.max(1, Math.floor(steps / 100)) : checkPositiveInteger(options.reportEvery, 'reportEvery');
    const evalSize = options.evalSize === undefined ? 4096 : checkPositiveInteger(options.evalSize, 'evalSize', 2 ** 30);
    const seed = options.seed ?? 0;
    const W = this.outputWidth;
    const evaluate = (points: Float64Array, n: number): { logp: Float64Array; grad: Float64Array } => {
      const r = target(points, n);
      const logp = r?.logDensity, grad = r?.gradient;
      if (!(logp instanceof Float64Array) || logp.length !== n) {
        throw new TypeError(`The target function must return { logDensity: Float64Array(${n}), gradient: Float64Array(${n * W}) }; logDensity is ${describe(logp)}`);
      }
      if (!(grad instanceof Float64Array) || grad.length !== n * W) {
        throw new TypeError(`The target function must return { logDensity: Float64Array(${n}), gradient: Float64Array(${n * W}) }; gradient is ${describe(grad)}`);
      }
      for (let i = 0; i < n; i++) {
        if (!Number.isFinite(logp[i]!)) throw new RangeError(`The target function returned a non-finite log density (${logp[i]}) at point ${i}`);
      }
      for (let i = 0; i < n * W; i++) {
        if (!Number.isFinite(grad[i]!)) throw new RangeError(`The target function returned a non-finite gradient (${grad[i]}) at point ${Math.floor(i / W)}`);
      }
      return { logp, grad };
    };
    const P = this.paramCount;
    const params = this.params.slice();
    const grad = new Float64Array(P), m = new Float64Array(P), v = new Float64Array(P);
    const x = new Float64Array(batch * W), logq = new Float64Array(batch);
    const historyStep: number[] = [], historyLoss: number[] = [];
    let acc = 0, accN = 0;
    for (let t = 0; t < steps; t++) {
      if (options.signal?.aborted) throw new SbiError('The operation was aborted', 'ABORTED');
      kernels.manifoldFlowSample(this.spec, params, batch, seed, t, x, logq, options.threads);
      const { logp, grad: glogp } = evaluate(x, batch);
      const loss = kernels.manifoldFlowTabulatedLoss(this.spec, params, { seed, step: t, batchSize: batch, threads: options.threads }, logp, glogp, grad);
      if (Number.isFinite(clip)) native.nnClipGradNorm(grad, clip);
      if (!Number.isFinite(loss) || !grad.every(Number.isFinite)) {
        throw new SbiError(`The loss or its gradient became non-finite at step ${t} (lower the learning rate)`, 'TRAINING_DIVERGED');
      }
      native.nnAdamStep(params, grad, m, v, t + 1, { lr });
      acc += loss;
      accN++;
      if ((t + 1) % reportEvery === 0 || t + 1 === steps) {
        historyStep.push(t + 1);
        historyLoss.push(acc / accN);
        options.onProgress?.({ step: t + 1, steps, loss: acc / accN });
        acc = 0;
        accN = 0;
      }
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    this.params = params;
    // KL, log Z and ESS from evalSize draws on the native trainer's evaluation stream (2^62)
    const ex = new Float64Array(evalSize * W), elq = new Float64Array(evalSize);
    kernels.manifoldFlowSample(this.spec, params, evalSize, seed, 1n << 62n, ex, elq, options.threads);
    const { logp } = evaluate(ex, evalSize);
    let kl = 0, mx = -Infinity;
    for (let i = 0; i < evalSize; i++) {
      kl += elq[i]! - logp[i]!;
      mx = Math.max(mx, logp[i]! - elq[i]!);
    }
    kl /= evalSize;
    let sw = 0, sw2 = 0;
    for (let i = 0; i < evalSize; i++) {
      const w = Math.exp(logp[i]! - elq[i]! - mx);
      sw += w;
      sw2 += w * w;
    }
    const logZ = mx + Math.log(sw / evalSize);
    return {
      steps, historyStep: Float64Array.from(historyStep), historyLoss: Float64Array.from(historyLoss),
      evaluation: { kl, logZ, klNormalised: kl + logZ, ess: (100 * sw * sw) / (evalSize * sw2), samples: evalSize },
    };
  }

  /** The model file: spec and training record in the metadata, the parameters as a tensor. */
  toModelFile(metadata: Record<string, unknown> = {}): ModelFile {
    return {
      kind: MODEL_KIND,
      metadata: { ...metadata, spec: this.spec },
      tensors: { params: { data: this.params, shape: [this.paramCount] } },
    };
  }

  encode(metadata: Record<string, unknown> = {}): Uint8Array {
    return encodeModelFile(this.toModelFile(metadata));
  }

  /** Rebuilds a flow from a model file (checked: kind, spec, parameter count, finite values). */
  static fromModelFile(file: ModelFile, label = 'manifold flow'): ManifoldFlow {
    const reader = new ModelFileReader(file, label);
    if (file.kind !== MODEL_KIND) throw reader.invalid(`kind is "${file.kind}", expected "${MODEL_KIND}"`);
    const spec = file.metadata.spec as ManifoldFlowSpec | undefined;
    if (typeof spec !== 'object' || spec === null) throw reader.invalid('no flow spec');
    let flow: ManifoldFlow;
    try {
      flow = new ManifoldFlow(spec, 0);
    } catch (e) {
      throw reader.invalid(`bad flow spec (${(e as Error).message})`);
    }
    flow.params = reader.finiteTensor('params', Float64Array, flow.paramCount);
    return flow;
  }

  static decode(bytes: Uint8Array): ManifoldFlow {
    return ManifoldFlow.fromModelFile(decodeModelFile(bytes, { expectedKind: MODEL_KIND }));
  }
}
