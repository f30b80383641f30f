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
 * An unnormalised target written in TypeScript, for reverse-KL training. Points are the flow's
 * output rows [n, W]: angles (radians) on Tᴰ (W = D), unit vectors in ℝ^{D+1} on Sᴰ (W = D + 1),
 * as the native targets take them. Returns log p̃ [n] and its gradient [n, W]: ∂/∂θ on tori, the
 * Euclidean gradient ∂/∂x on spheres (the flow projects it onto the sphere). Called once per
 * training step with the whole batch; the draws and the backward pass stay native.
 */
export interface ManifoldTargetFunction {
  /** Names the target in errors. */
  name: string;
  logDensityAndGrad(points: Float64Array, n: number): { logDensity: Float64Array; grad: Float64Array };
}

export interface FlowTrainOptions {
  /** 'reverseKl' (default) needs `target`; 'nll' needs `data` (rows of angles or unit vectors). */
  loss?: 'reverseKl' | 'nll';
  /** A native target by name, or a TypeScript function (ManifoldTargetFunction). */
  target?: ManifoldTarget | ManifoldTargetFunction;
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

interface ManifoldFlowNative {
  manifoldFlowInfo(spec: ManifoldFlowSpec): { paramCount: number; coords: number; outputWidth: number };
  manifoldFlowInit(spec: ManifoldFlowSpec, seed: number | bigint, params: Float64Array): void;
  manifoldFlowSample(spec: ManifoldFlowSpec, params: Float64Array, n: number, seed: number | bigint, stream: number,
    x: Float64Array, logq: Float64Array, threads?: number, base?: Float64Array): void;
  manifoldFlowLogProb(spec: ManifoldFlowSpec, params: Float64Array, x: Float64Array, logq: Float64Array, threads?: number, base?: Float64Array): void;
  manifoldFlowLoss(spec: ManifoldFlowSpec, params: Float64Array, options: object, grad: Float64Array): number;
  manifoldFlowTrain(spec: ManifoldFlowSpec, params: Float64Array, options: object,
    onProgress?: (p: { step: number; steps: number; loss: number }) => void, cancel?: Int32Array): Promise<FlowTrainResult & { params: Float64Array }>;
}
const kernels = native as unknown as ManifoldFlowNative;

/** The native trainer's evaluation stream (native/manifold_flow.cc kEvalStream). */
const EVAL_STREAM = 2 ** 62;

function isTargetFunction(t: unknown): t is ManifoldTargetFunction {
  if (typeof t !== 'object' || t === null) return false;
  const f = t as ManifoldTargetFunction;
  if (typeof f.logDensityAndGrad !== 'function' || typeof f.name !== 'string') {
    throw new TypeError(`Expected a target name or { name, logDensityAndGrad(points, n) } for \`target\` but received ${describe(t)}`);
  }
  return true;
}

/** One call of a TypeScript target on points [n, W], its output checked (lengths, finite values). */
function evaluateTarget(target: ManifoldTargetFunction, points: Float64Array, n: number, W: number): { logp: Float64Array; grad: Float64Array } {
  const out = target.logDensityAndGrad(points, n);
  const who = `target "${target.name}"`;
  if (typeof out !== 'object' || out === null) throw new TypeError(`Expected ${who} to return { logDensity, grad } but it returned ${describe(out)}`);
  const { logDensity, grad } = out;
  if (!(logDensity instanceof Float64Array) || logDensity.length !== n) {
    throw new TypeError(`Expected ${who} to return logDensity as a Float64Array of ${n} values but it returned ${describe(logDensity)}`);
  }
  if (!(grad instanceof Float64Array) || grad.length !== n * W) {
    throw new TypeError(`Expected ${who} to return grad as a Float64Array of ${n}·${W} = ${n * W} values but it returned ${describe(grad)}`);
  }
  const bad = logDensity.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw new SbiError(`Expected finite values from ${who} but logDensity[${bad}] is ${logDensity[bad]} (at point row ${bad})`, 'NON_FINITE');
  const badGrad = grad.findIndex((v) => !Number.isFinite(v));
  if (badGrad >= 0) {
    throw new SbiError(`Expected finite values from ${who} but grad[${badGrad}] is ${grad[badGrad]} (at point row ${Math.floor(badGrad / W)})`, 'NON_FINITE');
  }
  return { logp: logDensity, grad };
}

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

  /** n samples [n, outputWidth] and their log q; row i uses Philox stream `stream` of seed, counters from i·coords. */
  sample(n: number, seed: number | bigint, options: { stream?: number; threads?: number } = {}): { x: Float64Array; logProb: Float64Array } {
    checkPositiveInteger(n, 'n');
    const x = new Float64Array(n * this.outputWidth);
    const logProb = new Float64Array(n);
    kernels.manifoldFlowSample(this.spec, this.params, n, seed, options.stream ?? 0, x, logProb, options.threads);
    return { x, logProb };
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
    const { onProgress: _a, signal: _b, ...rest } = options as FlowTrainOptions & { step?: number };
    if (isTargetFunction(rest.target)) {
      const { target, ...nativeOptions } = rest;
      const batch = checkPositiveInteger(nativeOptions.batchSize ?? 256, 'batchSize', 2 ** 20);
      const targetValues = this.targetValuesAtDraws(target, params, batch, nativeOptions.seed ?? 0, nativeOptions.step ?? 0, nativeOptions.threads);
      const loss = kernels.manifoldFlowLoss(this.spec, params, { ...nativeOptions, targetValues }, grad);
      return { loss, grad };
    }
    const loss = kernels.manifoldFlowLoss(this.spec, params, rest, grad);
    return { loss, grad };
  }

  /**
   * The target at the draws of a reverse-KL step: the flow's `batch` draws on Philox stream
   * `stream` of `seed` (what manifoldFlowLoss draws), one call of the target, checked.
   */
  private targetValuesAtDraws(target: ManifoldTargetFunction, params: Float64Array, batch: number, seed: number | bigint,
    stream: number, threads?: number): { logp: Float64Array; grad: Float64Array } {
    const x = new Float64Array(batch * this.outputWidth);
    kernels.manifoldFlowSample(this.spec, params, batch, seed, stream, x, new Float64Array(batch), threads);
    return evaluateTarget(target, x, batch, this.outputWidth);
  }

  /**
   * Reverse-KL training to a TypeScript target: Adam and the optional clip as the native trainer
   * (nnClipGradNorm, nnAdamStep; the same step numbering, draws and chunked gradient sums, so a
   * TypeScript copy of a native target trains to the same parameters), one target call per step,
   * the event loop yielded between steps. The final evaluation draws from the native trainer's
   * evaluation stream 2⁶².
   */
  private async trainToFunction(target: ManifoldTargetFunction, options: Omit<FlowTrainOptions, 'target'>): Promise<FlowTrainResult> {
    const steps = checkPositiveInteger(options.steps, 'steps');
    const batch = checkPositiveInteger(options.batchSize ?? 256, 'batchSize', 2 ** 20);
    const lr = options.learningRate ?? 1e-3;
    if (!(typeof lr === 'number' && lr > 0 && lr <= 1)) throw new RangeError(`Expected \`learningRate\` in (0, 1] but received ${describe(lr)}`);
    const clip = options.clipMaxNorm;
    if (clip !== undefined && !(typeof clip === 'number' && clip > 0)) throw new RangeError(`Expected a positive \`clipMaxNorm\` but received ${describe(clip)}`);
    const reportEvery = checkPositiveInteger(options.reportEvery ?? Math.max(1, Math.floor(steps / 100)), 'reportEvery');
    const evalSize = checkPositiveInteger(options.evalSize ?? 4096, 'evalSize', 2 ** 30);
    if (evalSize < 2) throw new RangeError(`Expected \`evalSize\` of at least 2 but received ${evalSize}`);
    const seed = options.seed ?? 0;
    const params = Float64Array.from(this.params);
    const m = new Float64Array(this.paramCount), v = new Float64Array(this.paramCount);
    const historyStep: number[] = [], historyLoss: number[] = [];
    let acc = 0, accN = 0;
    for (let t = 0; t < steps; t++) {
      if (options.signal?.aborted) throw new SbiError('The operation was aborted', 'ABORTED');
      const { loss, grad } = this.lossAndGradient({
        target, batchSize: batch, seed, step: t, ...(options.threads !== undefined ? { threads: options.threads } : {}),
      }, params);
      if (clip !== undefined) native.nnClipGradNorm(grad, clip);
      if (!Number.isFinite(loss) || !grad.every(Number.isFinite)) {
        throw new SbiError(`The loss or its gradient became non-finite at step ${t} (lower the learning rate)`, 'NON_FINITE');
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
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    this.params = params;
    // KL, log Z and ESS from evalSize draws on the evaluation stream (as the native trainer).
    const x = new Float64Array(evalSize * this.outputWidth), logq = new Float64Array(evalSize);
    kernels.manifoldFlowSample(this.spec, params, evalSize, seed, EVAL_STREAM, x, logq, options.threads);
    const { logp } = evaluateTarget(target, x, evalSize, this.outputWidth);
    let kl = 0, mx = -Infinity;
    for (let i = 0; i < evalSize; i++) {
      kl += logq[i]! - logp[i]!;
      mx = Math.max(mx, logp[i]! - logq[i]!);
    }
    kl /= evalSize;
    let sw = 0, sw2 = 0;
    for (let i = 0; i < evalSize; i++) {
      const w = Math.exp(logp[i]! - logq[i]! - mx);
      sw += w;
      sw2 += w * w;
    }
    const logZ = mx + Math.log(sw / evalSize);
    return {
      steps, historyStep: Float64Array.from(historyStep), historyLoss: Float64Array.from(historyLoss),
      evaluation: { kl, logZ, klNormalised: kl + logZ, ess: (100 * sw * sw) / (evalSize * sw2), samples: evalSize },
    };
  }

  /** Trains with Adam natively off the event loop; on success the flow holds the trained parameters. */
  async train(options: FlowTrainOptions): Promise<FlowTrainResult> {
    if (isTargetFunction(options.target)) {
      const { target, ...rest } = options;
      if (rest.loss !== undefined && rest.loss !== 'reverseKl') throw new TypeError(`Expected loss 'reverseKl' with a target function but received ${describe(rest.loss)}`);
      return this.trainToFunction(target, rest);
    }
    const { onProgress, signal, ...rest } = options;
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
