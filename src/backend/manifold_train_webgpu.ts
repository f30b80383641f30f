/// <reference types="@webgpu/types" />
/**
 * Reverse-KL training of the flows on Tᴰ and Sᴰ (src/manifold/flow.ts `ManifoldFlow`) on the
 * WebGPU device (op manifold.flow_train): the native trainer's steps (native/manifold_flow.cc
 * TrainJob::Run) in f32, one command buffer per step, the parameters, gradients and Adam's
 * moments resident on the device. Step t (from 0):
 *   draws     base rows r = 0..n−1 from Philox blocks r·coords on of (seed, stream t), the CPU's
 *             words (flow_base_draw; manifold_flow.wgsl mf_base);
 *   forward   per layer its input state kept (mf_save), features, the conditioner's tanh MLP
 *             (kernels/nn/dense.wgsl, activations kept per layer), the elementwise transforms;
 *   loss      L = (1/n) Σ_r (log q − log p̃) with the native target (targets.h, mirrored in
 *             kernels/manifold/manifold_flow_train.wgsl); log q and log p̃ per row come back and
 *             the host sums them in double;
 *   backward  flow_reverse_kl_chunk's walk from the last layer: the transforms' backward, then the
 *             MLP backward and the features' (or, for constants, the rows' sum);
 *   update    clip at global norm when `clipMaxNorm` is given (adam.h clip_grad_norm), Adam step
 *             t + 1 (adam.h defaults: β = 0.9, 0.999, ε = 1e-8).
 * The CPU trains in double and sums rows in 32-row chunks; here rows sum in tile order in f32,
 * so losses and parameters agree with the CPU's within f32 rounding grown over the steps, not bit
 * for bit (docs/backends.md).
 */
import type { FlowEvaluation, FlowTrainOptions, FlowTrainResult, ManifoldFlow, ManifoldFlowLayout, ManifoldTarget } from '../manifold/flow.js';
import { SbiError } from '../errors.js';
import { checkSeed, describe } from '../validate.js';
import { manifoldFlowWebGpuSupport, mfUniforms, type MfUniforms } from './manifold_webgpu.js';
import {
  PassRecorder, acquireMlpLayers, groups1d, recordAdamStep, recordElementwise, recordMlpBackward, recordMlpForward, storage, upload,
  type MlpSpec,
} from './nn_webgpu.js';
import { bufferPool, readStaging, submitChecked, type PipelineKey, type WebGpuContext } from './webgpu.js';

const ELT = 64;
/** The stream of the final evaluation's draws (native/manifold_flow.cc kEvalStream). */
const EVAL_STREAM = 1n << 62n;
/** Steps queued per command-buffer batch and read back together (bounds the staging buffer). */
const STEPS_PER_SUBMIT = 64;

/** targets.h TargetKind, with the manifold each target lives on. */
const TARGETS: Readonly<Record<ManifoldTarget, { kind: number; space: 'torus' | 'sphere'; dim: number }>> = {
  'torus-unimodal': { kind: 0, space: 'torus', dim: 2 },
  'torus-multimodal': { kind: 1, space: 'torus', dim: 2 },
  'torus-correlated': { kind: 2, space: 'torus', dim: 2 },
  'sphere-vmf4': { kind: 3, space: 'sphere', dim: 2 },
  'sphere3-vmf4': { kind: 4, space: 'sphere', dim: 3 },
};

/** The options of op manifold.flow_train (the native trainer's, with its defaults). */
export interface ManifoldTrainStepOptions {
  /** A native target (targets.h) on the flow's manifold. */
  target: ManifoldTarget;
  steps: number;
  /** Draws per step (default 256). */
  batchSize?: number;
  /** Adam's learning rate (default 1e-3). */
  learningRate?: number;
  /** Global gradient-norm clip (default: none). */
  clipMaxNorm?: number;
  seed?: number | bigint;
}

export interface CheckedTrainOptions {
  target: ManifoldTarget;
  kind: number;
  steps: number;
  batch: number;
  lr: number;
  clip: number;
  seed: bigint;
}

const manifoldName = (space: string, dim: number) => `${space === 'sphere' ? 'S' : 'T'}${dim}`;

/** Checks op manifold.flow_train's options against `flow`, as native/manifold_flow.cc does. */
export function checkManifoldTrainOptions(flow: ManifoldFlow, o: ManifoldTrainStepOptions): CheckedTrainOptions {
  if (typeof o !== 'object' || o === null) throw new TypeError(`Expected an options object with \`target\` and \`steps\` but received ${describe(o)}`);
  if (typeof o.target !== 'string' || !Object.hasOwn(TARGETS, o.target)) {
    throw new RangeError(`Expected one of ${Object.keys(TARGETS).map((k) => JSON.stringify(k)).join(', ')} for \`target\` but received ${describe(o.target)}`);
  }
  const t = TARGETS[o.target];
  if (t.space !== flow.spec.space || t.dim !== flow.spec.dim) {
    throw new RangeError(`Expected a target on the flow's manifold (${manifoldName(flow.spec.space, flow.spec.dim)}) but \`target\` ${o.target} lives on ${manifoldName(t.space, t.dim)}`);
  }
  const steps = o.steps;
  if (!Number.isSafeInteger(steps) || steps < 1) throw new RangeError(`Expected a positive integer for \`steps\` but received ${describe(steps)}`);
  const batch = o.batchSize ?? 256;
  if (!Number.isSafeInteger(batch) || batch < 1 || batch > 1 << 20) throw new RangeError(`Expected an integer in [1, ${1 << 20}] for \`batchSize\` but received ${describe(batch)}`);
  const lr = o.learningRate ?? 1e-3;
  if (typeof lr !== 'number' || !(lr > 0 && lr <= 1)) throw new RangeError(`Expected a number in (0, 1] for \`learningRate\` but received ${describe(lr)}`);
  const clip = o.clipMaxNorm ?? Infinity;
  if (typeof clip !== 'number' || !(clip > 0)) throw new RangeError(`Expected a positive number for \`clipMaxNorm\` but received ${describe(clip)}`);
  const seed = BigInt(checkSeed(o.seed ?? 0, 'seed'));
  return { target: o.target, kind: t.kind, steps, batch, lr, clip, seed };
}

const key = (file: 'manifold/manifold_flow.wgsl' | 'manifold/manifold_flow_train.wgsl', entryPoint: string): PipelineKey =>
  ({ file, entryPoint, constants: { workgroup_size: ELT } });
const FWD = 'manifold/manifold_flow.wgsl' as const;
const TRAIN = 'manifold/manifold_flow_train.wgsl' as const;

/**
 * A flow in training on the device, for batches of `batch` rows: parameters, gradients, Adam's
 * moments, and per layer its input state, features and MLP activations. `run` queues steps;
 * `params` reads the parameters back; `evaluate` draws on the evaluation stream. Release after.
 */
export class ManifoldTrainSession {
  private readonly pool;
  private readonly L: ManifoldFlowLayout;
  private readonly width: number;
  private readonly P: number;
  private readonly paramsBuf: GPUBuffer;
  private readonly grads: GPUBuffer;
  private readonly moments: GPUBuffer;
  private readonly sumSq: GPUBuffer;
  private readonly state: GPUBuffer;
  private readonly acc: GPUBuffer;
  private readonly g: GPUBuffer;
  private readonly dp: GPUBuffer;
  private readonly dfeat: GPUBuffer;
  private readonly terms: GPUBuffer;
  private readonly saved: GPUBuffer[];
  private readonly feat: (GPUBuffer | null)[];
  private readonly mlp: GPUBuffer[][];
  private readonly scratch: [GPUBuffer, GPUBuffer] | null;
  private taken = 0;
  private released = false;

  constructor(private readonly gpu: WebGpuContext, flow: ManifoldFlow, readonly o: CheckedTrainOptions) {
    const support = manifoldFlowWebGpuSupport(flow);
    if (support !== true) throw new SbiError(`manifold.flow_train is not supported on the webgpu backend for this flow: ${support.reason}`, 'UNSUPPORTED_OP');
    const { device } = gpu;
    this.pool = bufferPool(device);
    this.L = flow.layout();
    this.width = flow.outputWidth;
    this.P = flow.paramCount;
    const n = o.batch, C = this.L.coords;
    this.paramsBuf = this.pool.acquire(4 * this.P, storage());
    upload(device.queue, this.paramsBuf, Float32Array.from(flow.params));
    this.grads = this.pool.acquire(4 * this.P, storage());
    this.moments = this.pool.acquire(8 * this.P, storage());
    device.queue.writeBuffer(this.moments, 0, new Float32Array(2 * this.P));
    this.sumSq = this.pool.acquire(4, storage());
    this.state = this.pool.acquire(4 * n * C, storage());
    this.acc = this.pool.acquire(4 * n, storage());
    this.g = this.pool.acquire(4 * n * C, storage());
    this.terms = this.pool.acquire(8 * n, storage());
    const layers = this.L.layers;
    this.dp = this.pool.acquire(4 * n * Math.max(...layers.map((f) => f.active.length * f.perElement)), storage());
    const widestFeat = Math.max(1, ...layers.map((f) => f.sizes[0] ?? 0));
    this.dfeat = this.pool.acquire(4 * n * widestFeat, storage());
    this.saved = layers.map(() => this.pool.acquire(4 * n * C, storage()));
    this.feat = layers.map((f) => (f.sizes.length > 0 ? this.pool.acquire(4 * n * f.sizes[0]!, storage()) : null));
    this.mlp = layers.map((f) => (f.sizes.length > 0 ? acquireMlpLayers(device, this.spec(f.sizes), n) : []));
    const widest = Math.max(0, ...layers.flatMap((f) => f.sizes));
    this.scratch = widest > 0 ? [this.pool.acquire(4 * n * widest, storage()), this.pool.acquire(4 * n * widest, storage())] : null;
  }

  /** Steps taken so far: the next step's Philox stream, and Adam's step count. */
  get step(): number {
    return this.taken;
  }

  private spec(sizes: number[]): MlpSpec {
    return { sizes, activation: 'tanh' };
  }

  private uniforms(u: MfUniforms): Uint32Array<ArrayBuffer> {
    return mfUniforms(this.L, this.width, u);
  }

  /** Base draws of `stream` (rows firstRow..) and the forward pass, each layer's input kept. */
  private recordForward(rec: PassRecorder, n: number, stream: bigint, firstRow: number): void {
    const g = groups1d(n);
    rec.dispatch(key(FWD, 'mf_base'), this.uniforms({ n, seed: this.o.seed, stream, firstRow }), { 1: this.state, 2: this.acc }, g);
    this.L.layers.forEach((f, l) => {
      rec.dispatch(key(TRAIN, 'mf_save'), this.uniforms({ n }), { 1: this.state, 4: this.saved[l]! }, g);
      let ep = this.paramsBuf, epBase = f.paramOffset, epStride = 0;
      if (f.sizes.length > 0) {
        rec.dispatch(key(FWD, 'mf_features'), this.uniforms({ n, layer: f }), { 1: this.state, 4: this.feat[l]! }, g);
        recordMlpForward(rec, this.spec(f.sizes), this.paramsBuf, f.paramOffset, this.feat[l]!, this.mlp[l]!, n);
        [ep, epBase, epStride] = [this.mlp[l]![this.mlp[l]!.length - 1]!, 0, f.active.length * f.perElement];
      }
      rec.dispatch(key(FWD, 'mf_forward'), this.uniforms({ n, layer: f, epBase, epStride }), { 1: this.state, 2: this.acc, 3: ep }, g);
    });
  }

  /** log q, log p̃ per row into `terms` and, with a loss scale, ∂L/∂(final state) into g. */
  private recordTarget(rec: PassRecorder, n: number, lossScale: number): void {
    rec.dispatch(key(TRAIN, 'mf_target'), this.uniforms({ n, target: this.o.kind, lossScale }),
      { 1: this.state, 2: this.acc, 5: this.g, 7: this.terms }, groups1d(n));
  }

  /** flow_reverse_kl_chunk's backward into `grads` (overwritten). */
  private recordBackward(rec: PassRecorder, n: number): void {
    const g = groups1d(n);
    for (let l = this.L.layers.length - 1; l >= 0; l--) {
      const f = this.L.layers[l]!;
      const mlp = f.sizes.length > 0;
      const ep = mlp ? this.mlp[l]![this.mlp[l]!.length - 1]! : this.paramsBuf;
      const [epBase, epStride] = mlp ? [0, f.active.length * f.perElement] : [f.paramOffset, 0];
      rec.dispatch(key(TRAIN, 'mf_elem_backward'), this.uniforms({ n, layer: f, epBase, epStride, lossScale: 1 / n }),
        { 1: this.saved[l]!, 3: ep, 5: this.g, 6: this.dp }, g);
      if (mlp) {
        recordMlpBackward(rec, this.spec(f.sizes), {
          params: this.paramsBuf, paramOffset: f.paramOffset, input: this.feat[l]!, layers: this.mlp[l]!, dOut: this.dp, grads: this.grads,
          scratch: this.scratch!, dInput: this.dfeat,
        }, n);
        rec.dispatch(key(TRAIN, 'mf_features_backward'), this.uniforms({ n, layer: f }), { 1: this.saved[l]!, 4: this.dfeat, 5: this.g }, g);
      } else {
        recordElementwise(rec, 'column_sums', { count: f.paramCount, rows: n, outOff: f.paramOffset }, this.dp, this.grads);
      }
    }
  }

  /** Clip at the global norm (when given) and Adam step `adamStep` (1 for the first). */
  private recordUpdate(rec: PassRecorder, adamStep: number): void {
    if (Number.isFinite(this.o.clip)) {
      recordElementwise(rec, 'sum_squares', { count: this.P }, this.grads, this.sumSq);
      recordElementwise(rec, 'clip_by_norm', { count: this.P, scale: this.o.clip }, this.sumSq, this.grads);
    }
    recordAdamStep(rec, { count: this.P, step: adamStep, lr: this.o.lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false },
      this.grads, this.paramsBuf, this.moments);
  }

  /** Sums (1/n) Σ (log q − log p̃) of each of `count` [log q (n) | log p̃ (n)] blocks in double. */
  private static losses(terms: Float32Array, n: number, count: number): Float64Array {
    return Float64Array.from({ length: count }, (_, s) => {
      let sum = 0;
      for (let r = 0; r < n; r++) sum += terms[2 * n * s + r]! - terms[2 * n * s + n + r]!;
      return sum / n;
    });
  }

  private checkAlive(): void {
    if (this.released) throw new Error('This ManifoldTrainSession was released');
  }

  /**
   * Queues `count` training steps and resolves with each step's loss (the batch mean of
   * log q − log p̃). Rejects with SbiError TRAINING_DIVERGED at the first non-finite loss, as the
   * native trainer does.
   */
  async run(count: number): Promise<Float64Array> {
    this.checkAlive();
    const n = this.o.batch;
    const out = new Float64Array(count);
    const { device } = this.gpu;
    for (let done = 0; done < count; done += STEPS_PER_SUBMIT) {
      const k = Math.min(STEPS_PER_SUBMIT, count - done);
      const staging = this.pool.acquire(8 * n * k, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
      const recorders: PassRecorder[] = [];
      const first = this.taken;
      try {
        await submitChecked(device, 'manifold flow training', () => {
          for (let s = 0; s < k; s++) {
            const rec = new PassRecorder(this.gpu);
            recorders.push(rec);
            this.recordForward(rec, n, BigInt(first + s), 0);
            this.recordTarget(rec, n, 1 / n);
            this.recordBackward(rec, n);
            this.recordUpdate(rec, first + s + 1);
            rec.copyAfterPass(this.terms, 0, staging, 8 * n * s, 8 * n);
            rec.submit();
          }
        });
        this.taken = first + k;
        const losses = ManifoldTrainSession.losses(await readStaging(staging, 2 * n * k), n, k);
        const bad = losses.findIndex((v) => !Number.isFinite(v));
        if (bad >= 0) throw new SbiError(`The loss or its gradient became non-finite at step ${first + bad} (lower the learning rate)`, 'TRAINING_DIVERGED');
        out.set(losses, done);
      } finally {
        for (const r of recorders) r.release();
        this.pool.release(staging);
      }
    }
    return out;
  }

  /**
   * The loss and its gradient at the current parameters on the next step's draws (stream
   * `this.step`), without a step: flow_reverse_kl_chunk's, in f32 (the gradient summed over rows
   * in tile order), for checks against the CPU's double.
   */
  async lossAndGradient(): Promise<{ loss: number; grad: Float64Array }> {
    this.checkAlive();
    const n = this.o.batch;
    const staging = this.pool.acquire(4 * (2 * n + this.P), GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
    const rec = new PassRecorder(this.gpu);
    try {
      await submitChecked(this.gpu.device, 'manifold flow gradient', () => {
        this.recordForward(rec, n, BigInt(this.step), 0);
        this.recordTarget(rec, n, 1 / n);
        this.recordBackward(rec, n);
        rec.copyAfterPass(this.terms, 0, staging, 0, 8 * n);
        rec.copyAfterPass(this.grads, 0, staging, 8 * n, 4 * this.P);
        rec.submit();
      });
      const out = await readStaging(staging, 2 * n + this.P);
      return { loss: ManifoldTrainSession.losses(out, n, 1)[0]!, grad: Float64Array.from(out.subarray(2 * n)) };
    } finally {
      rec.release();
      this.pool.release(staging);
    }
  }

  /** The current parameters, checked finite (a non-finite gradient in the last step shows here). */
  async params(): Promise<Float64Array> {
    this.checkAlive();
    const staging = this.pool.acquire(4 * this.P, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
    try {
      await submitChecked(this.gpu.device, 'manifold flow training', () => {
        const enc = this.gpu.device.createCommandEncoder();
        enc.copyBufferToBuffer(this.paramsBuf, 0, staging, 0, 4 * this.P);
        this.gpu.device.queue.submit([enc.finish()]);
      });
      const p = Float64Array.from(await readStaging(staging, this.P));
      const bad = p.findIndex((v) => !Number.isFinite(v));
      if (bad >= 0) throw new SbiError(`The loss or its gradient became non-finite by step ${this.step - 1}: parameter ${bad} is ${p[bad]} (lower the learning rate)`, 'TRAINING_DIVERGED');
      return p;
    } finally {
      this.pool.release(staging);
    }
  }

  /**
   * KL, log Z and ESS from `n` draws on the native trainer's evaluation stream (2^62), in chunks
   * of the batch size: log q − log p̃ per row as in training, summed in double (TrainJob's Evaluate).
   */
  async evaluate(n: number): Promise<FlowEvaluation> {
    this.checkAlive();
    const chunk = this.o.batch;
    const logq = new Float64Array(n), logp = new Float64Array(n);
    for (let start = 0; start < n; start += chunk) {
      const rows = Math.min(chunk, n - start);
      const staging = this.pool.acquire(8 * chunk, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
      const rec = new PassRecorder(this.gpu);
      try {
        await submitChecked(this.gpu.device, 'manifold flow evaluation', () => {
          this.recordForward(rec, rows, EVAL_STREAM, start);
          this.recordTarget(rec, rows, 0);
          rec.copyAfterPass(this.terms, 0, staging, 0, 8 * rows);
          rec.submit();
        });
        const t = await readStaging(staging, 2 * rows);
        for (let r = 0; r < rows; r++) {
          logq[start + r] = t[r]!;
          logp[start + r] = t[rows + r]!;
        }
      } finally {
        rec.release();
        this.pool.release(staging);
      }
    }
    return evaluation(logq, logp);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.pool.release(
      this.paramsBuf, this.grads, this.moments, this.sumSq, this.state, this.acc, this.g, this.dp, this.dfeat, this.terms, ...this.saved,
      ...this.feat.filter((b): b is GPUBuffer => b !== null), ...this.mlp.flat(), ...(this.scratch ?? []),
    );
  }
}

/** KL = mean(log q − log p̃), log Z = log mean exp(log p̃ − log q) (max taken out), ESS in percent (TrainJob's Evaluate). */
export function evaluation(logq: Float64Array, logp: Float64Array): FlowEvaluation {
  const n = logq.length;
  let kl = 0, mx = -Infinity;
  for (let i = 0; i < n; i++) {
    kl += logq[i]! - logp[i]!;
    mx = Math.max(mx, logp[i]! - logq[i]!);
  }
  kl /= n;
  let sw = 0, sw2 = 0;
  for (let i = 0; i < n; i++) {
    const w = Math.exp(logp[i]! - logq[i]! - mx);
    sw += w;
    sw2 += w * w;
  }
  const logZ = mx + Math.log(sw / n);
  return { kl, logZ, klNormalised: kl + logZ, ess: (100 * sw * sw) / (n * sw2), samples: n };
}

/**
 * Op manifold.flow_train on the device: `steps` steps from flow.params (not modified), step t on
 * Philox stream t of the seed. Returns the final parameters and each step's loss.
 */
export async function manifoldFlowTrainWebGpu(
  gpu: WebGpuContext, flow: ManifoldFlow, options: ManifoldTrainStepOptions,
): Promise<{ params: Float64Array; losses: Float64Array }> {
  const o = checkManifoldTrainOptions(flow, options);
  const session = new ManifoldTrainSession(gpu, flow, o);
  try {
    const losses = await session.run(o.steps);
    return { params: await session.params(), losses };
  } finally {
    session.release();
  }
}

/**
 * `ManifoldFlow.train({ backend: 'webgpu' })`: the native trainer's loop (reverse KL to a native
 * target) on the device from flow.params (not modified) — progress every `reportEvery` steps (the
 * mean loss since the last report, one read-back each), `signal` checked between reports, then
 * KL, log Z and ESS from `evalSize` draws on the evaluation stream. Resolves with the trained
 * parameters and the record `train` returns.
 */
export async function trainManifoldFlowWebGpu(
  gpu: WebGpuContext, flow: ManifoldFlow, options: FlowTrainOptions,
): Promise<FlowTrainResult & { params: Float64Array }> {
  if ((options.loss ?? 'reverseKl') !== 'reverseKl' || typeof options.target !== 'string') {
    throw new RangeError(`Training on the webgpu backend is by reverse KL to a native \`target\` (${Object.keys(TARGETS).join(', ')}); received loss ${describe(options.loss ?? 'reverseKl')} with target ${describe(options.target)} — train those on the cpu backend`);
  }
  const o = checkManifoldTrainOptions(flow, {
    target: options.target, steps: options.steps, batchSize: options.batchSize, learningRate: options.learningRate, clipMaxNorm: options.clipMaxNorm, seed: options.seed,
  });
  const reportEvery = options.reportEvery ?? Math.max(1, Math.floor(o.steps / 100));
  if (!Number.isSafeInteger(reportEvery) || reportEvery < 1) throw new RangeError(`Expected a positive integer for \`reportEvery\` but received ${describe(options.reportEvery)}`);
  const evalSize = options.evalSize ?? 4096;
  const maxEval = Math.min(2 ** 30, Math.floor((2 ** 32 - 1) / flow.coords)); // Philox blocks are 32-bit on the device
  if (!Number.isSafeInteger(evalSize) || evalSize < 2 || evalSize > maxEval) throw new RangeError(`Expected an integer in [2, ${maxEval}] for \`evalSize\` but received ${describe(options.evalSize)}`);
  const abort = () => new SbiError('The operation was aborted', 'ABORTED');
  if (options.signal?.aborted) throw abort();
  const session = new ManifoldTrainSession(gpu, flow, o);
  try {
    const historyStep: number[] = [], historyLoss: number[] = [];
    while (session.step < o.steps) {
      if (options.signal?.aborted) throw abort();
      const losses = await session.run(Math.min(reportEvery, o.steps - session.step));
      const loss = losses.reduce((a, b) => a + b, 0) / losses.length;
      historyStep.push(session.step);
      historyLoss.push(loss);
      options.onProgress?.({ step: session.step, steps: o.steps, loss });
    }
    const params = await session.params();
    const evaluation = await session.evaluate(evalSize);
    return { params, steps: o.steps, historyStep: Float64Array.from(historyStep), historyLoss: Float64Array.from(historyLoss), evaluation };
  } finally {
    session.release();
  }
}
