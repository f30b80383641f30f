/// <reference types="@webgpu/types" />
/**
 * Maximum-likelihood training of a conditional MAF / NSF on the WebGPU device: the loop of
 * native/trainer.h with native/flow_trainer.cc's z-scoring, and each step's forward, backward
 * (kernels/flows/maf.h maf_nll_backward: kernels/flows/maf.wgsl's elementwise steps with the
 * affine or the rational-quadratic spline element, the MADE backward of kernels/nn/dense.wgsl),
 * gradient masking, clipping and Adam on the device.
 *
 * Randomness is the CPU trainer's: the validation split is a Philox permutation of stream 0 of the
 * seed, the per-epoch shuffles come from stream 1, so every batch holds the CPU's rows. The
 * parameters, gradients, Adam's moments and the z-scored data stay on the device; an epoch is
 * queued whole (one command buffer per step, the batch's rows gathered on the device from the
 * epoch's shuffled order) and its training and validation log q come back in one readback. f32
 * throughout, the sums in another order than the CPU's: the losses agree with the CPU trainer's
 * to f32 rounding growing over the steps, not bit for bit (docs/backends.md).
 *
 * Per step, for a batch of nb rows (loss L = mean −log q_z):
 *   forward    a_0 = θ, z_{k+1} = f(a_k; MADE_k(a_k, x)), u = z_K (every layer's activations kept)
 *   backward   dL/du = u / nb; per layer the element's backward, MADE_k's backward with dL/da_k
 *   update     g ← g ⊙ mask, g ← g · min(1, c / ‖g‖), Adam (kernels/nn/adam.h, torch's ε)
 */
import type { MAF } from '../flows/maf.js';
import { mlpParamCount } from '../inference/embedding.js';
import type { NativeMafTrainResult } from '../native.js';
import { PhiloxStream, shuffle } from '../random/philox.js';
import { checkFiniteRows, epochOptions, splitRows, trainEpochsOnDevice, zScoring, type DeviceTrainingOptions } from './device_training.js';
import { madeSpec, mafKey, mafUniforms } from './flow_webgpu.js';
import {
  PassRecorder, acquireMlpLayers, checkRows, groups1d, recordAdamStep, recordElementwise, recordMlpBackward, recordMlpForward, storage, upload,
  words, type MlpSpec,
} from './nn_webgpu.js';
import { bufferPool, readStaging, submitChecked, type PipelineKey, type WebGpuContext } from './webgpu.js';

/** A batch of z-scored rows: θ [nb, dim], x [nb, contextDim]. */
export interface MafBatch {
  theta: Float32Array;
  x: Float32Array;
}

export interface MafStepOptions {
  /** Adam's learning rate (default 5e-4, as sbi). */
  learningRate?: number;
  /** Gradients are scaled to this global norm when longer (default 5, as sbi). */
  clipMaxNorm?: number;
}

export interface MafTrainWebGpuOptions extends MafStepOptions, DeviceTrainingOptions {
  /** An embedding network between z-scored x and the flow's context, trained jointly (its parameters are the initial ones). */
  embedding?: MafEmbedding;
}

/**
 * An embedding network e_φ of x feeding the MAF's context (kernels/flows/maf_embedding.h): a ReLU
 * MLP with widths `sizes` [L + 1] (sizes[0] = x's width, sizes[L] = the flow's contextDim) and
 * f32 parameters in mlp.h's layout. src/inference/embedding.ts's EmbeddingNet is one.
 */
export interface MafEmbedding {
  sizes: ArrayLike<number>;
  params: Float32Array;
}

/** The embedding's MLP (ReLU hidden layers, identity output); checks its widths against `maf` and its parameters. */
export function embeddingSpec(maf: MAF, e: MafEmbedding, name = 'embedding'): MlpSpec {
  if (typeof e !== 'object' || e === null) throw new TypeError(`Expected { sizes, params } for \`${name}\` but received ${String(e)}`);
  const sizes = Array.from(e.sizes ?? []);
  if (sizes.length < 2 || sizes.length > 65 || !sizes.every((s) => Number.isSafeInteger(s) && s >= 1 && s <= 1 << 16)) {
    throw new RangeError(`Expected 2 to 65 widths in [1, 65536] for \`${name}.sizes\` but received [${sizes.join(', ')}]`);
  }
  if (sizes[sizes.length - 1] !== maf.contextDim) {
    throw new RangeError(`Expected the last of \`${name}.sizes\` to be the flow's contextDim = ${maf.contextDim} but received ${sizes[sizes.length - 1]}`);
  }
  const q = mlpParamCount(sizes);
  if (!(e.params instanceof Float32Array) || e.params.length !== q) {
    throw new RangeError(`Expected a Float32Array of ${q} values for \`${name}.params\` (widths [${sizes.join(', ')}]) but received ${e.params instanceof Float32Array ? e.params.length + ' values' : Object.prototype.toString.call(e.params)}`);
  }
  for (let i = 0; i < q; i++) {
    if (!Number.isFinite(e.params[i]!)) throw new RangeError(`Expected finite values in \`${name}.params\` but index ${i} is ${e.params[i]}`);
  }
  return { sizes, activation: 'relu' };
}

const embeddingKey = (entryPoint: string): PipelineKey => ({ file: 'flows/maf_embedding.wgsl', entryPoint, constants: { workgroup_size: 64 } });

/** EmbedParams of kernels/flows/maf_embedding.wgsl. */
function embedWords(u: { n: number; dim?: number; context?: number; xWidth: number; firstRow: number; accumulate?: boolean }): Uint32Array<ArrayBuffer> {
  return words([u.n, u.dim ?? 0, u.context ?? 0, u.xWidth, u.firstRow, u.accumulate ? 1 : 0, 0, 0]);
}

/**
 * Records maf_embedding.wgsl's embedding_gather: dst [n, xWidth] = rows rows[first .. first + n)
 * of x [*, xWidth] — the input of an embedding network (NPE's, and NRE's in resnet_webgpu.ts).
 */
export function recordEmbeddingGather(rec: PassRecorder, x: GPUBuffer, rows: GPUBuffer, dst: GPUBuffer, first: number, n: number, xWidth: number): void {
  rec.dispatch(embeddingKey('embedding_gather'), embedWords({ n, xWidth, firstRow: first }), { 1: x, 3: dst, 5: rows }, groups1d(n * xWidth));
}

const MIN_STD = 1e-14; // sbi's floor for z-scoring (flow_trainer.cc kMinStd)

function checkPositive(v: number, name: string): number {
  if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) throw new RangeError(`Expected a positive finite number for \`${name}\` but received ${String(v)}`);
  return v;
}

/**
 * The device state of MAF training for batches of up to `rows` rows: parameters, gradients,
 * Adam's moments and the MADE mask, and per layer its input rows and MADE activations. With an
 * embedding network (its MLP spec), the parameters are the flow's then the embedding's
 * (flow_trainer.cc's layout: one vector, one clip, one Adam), and the state adds the embedding's
 * input rows, activations and context gradient.
 */
class MafTrainState {
  readonly P: number;
  private readonly flowP: number;
  private readonly embed: { spec: MlpSpec; input: GPUBuffer; layers: GPUBuffer[]; gCtx: GPUBuffer } | null;
  readonly params: GPUBuffer;
  private readonly grads: GPUBuffer;
  private readonly moments: GPUBuffer;
  private readonly mask: GPUBuffer;
  private readonly sumSq: GPUBuffer;
  readonly logQ: GPUBuffer;
  private readonly ins: GPUBuffer[];
  private readonly layers: GPUBuffer[][];
  private readonly z: GPUBuffer;
  private readonly gZ: GPUBuffer;
  private readonly gOut: GPUBuffer;
  private readonly gIn: GPUBuffer;
  private readonly scratch: [GPUBuffer, GPUBuffer];
  private readonly spec: MlpSpec;
  private readonly madeCount: number;
  private adamStep = 0;

  constructor(private readonly gpu: WebGpuContext, private readonly maf: MAF, params: Float32Array, readonly rows: number, embedding: MlpSpec | null = null) {
    const { device } = gpu;
    const pool = bufferPool(device);
    const D = maf.dim, W = maf.dim + maf.contextDim;
    this.spec = madeSpec(maf);
    this.flowP = maf.paramCount;
    this.P = maf.paramCount + (embedding ? mlpParamCount(embedding.sizes) : 0);
    this.madeCount = maf.paramCount / maf.layers;
    this.params = pool.acquire(4 * this.P, storage());
    upload(device.queue, this.params, params);
    this.grads = pool.acquire(4 * this.P, storage());
    this.moments = pool.acquire(8 * this.P, storage());
    device.queue.writeBuffer(this.moments, 0, new Float32Array(2 * this.P));
    this.mask = pool.acquire(4 * this.P, storage());
    const mask = new Float32Array(this.P).fill(1); // the embedding's parameters are all free
    mask.set(maf.mask);
    upload(device.queue, this.mask, mask);
    this.embed = embedding && {
      spec: embedding,
      input: pool.acquire(4 * rows * embedding.sizes[0]!, storage()),
      layers: acquireMlpLayers(device, embedding, rows),
      gCtx: pool.acquire(4 * rows * maf.contextDim, storage()),
    };
    this.sumSq = pool.acquire(4, storage());
    this.logQ = pool.acquire(4 * rows, storage());
    this.ins = Array.from({ length: maf.layers }, () => pool.acquire(4 * rows * W, storage()));
    this.layers = Array.from({ length: maf.layers }, () => acquireMlpLayers(device, this.spec, rows));
    this.z = pool.acquire(4 * rows * D, storage());
    this.gZ = pool.acquire(4 * rows * D, storage());
    this.gOut = pool.acquire(4 * rows * D * maf.paramsPerDim, storage());
    this.gIn = pool.acquire(4 * rows * W, storage());
    const maxWidth = Math.max(...this.spec.sizes, ...(embedding ? embedding.sizes : []));
    this.scratch = [pool.acquire(4 * rows * maxWidth, storage()), pool.acquire(4 * rows * maxWidth, storage())];
  }

  private uniforms(n: number, u: { last?: number; d0?: number; firstRow?: number } = {}) {
    return mafUniforms(this.maf, this.maf.contextDim, { n, gradScale: 1 / n, ...u });
  }

  /**
   * Layer 0's input rows: rows order[first .. first + n) of the device data (θ [*, D], x [*, C]);
   * log q = 0. With an embedding, x [*, X] is gathered, embedded (maf_embed) and becomes the context.
   */
  recordGather(rec: PassRecorder, data: DeviceRows, first: number, n: number): void {
    const em = this.embed;
    if (em) {
      const X = em.spec.sizes[0]!;
      recordEmbeddingGather(rec, data.x, data.order, em.input, first, n, X);
      recordMlpForward(rec, em.spec, this.params, this.flowP, em.input, em.layers, n);
      rec.dispatch(embeddingKey('embedding_rows'), this.embedUniforms(n, first),
        { 1: data.theta, 2: em.layers[em.layers.length - 1]!, 3: this.ins[0]!, 4: this.logQ, 5: data.order }, groups1d(n));
      return;
    }
    rec.dispatch(mafKey(this.maf, 'maf_gather'), this.uniforms(n, { firstRow: first }),
      { 1: data.theta, 2: data.x, 3: this.ins[0]!, 4: this.logQ, 7: data.order }, groups1d(n));
  }

  /** EmbedParams of maf_embedding.wgsl for this flow. */
  private embedUniforms(n: number, firstRow: number, accumulate = false): Uint32Array<ArrayBuffer> {
    return embedWords({ n, dim: this.maf.dim, context: this.maf.contextDim, xWidth: this.embed!.spec.sizes[0]!, firstRow, accumulate });
  }

  /** maf_log_prob on the gathered rows: log q_z into logQ, every layer's activations kept. */
  recordForward(rec: PassRecorder, n: number): void {
    const K = this.maf.layers;
    for (let k = 0; k < K; k++) {
      const last = k + 1 === K;
      recordMlpForward(rec, this.spec, this.params, k * this.madeCount, this.ins[k]!, this.layers[k]!, n);
      const made = this.layers[k]![this.layers[k]!.length - 1]!;
      rec.dispatch(mafKey(this.maf, 'maf_forward'), this.uniforms(n, { last: last ? 1 : 0 }),
        { 1: this.ins[k]!, 2: made, 3: last ? this.z : this.ins[k + 1]!, 4: this.logQ }, groups1d(n));
    }
  }

  /**
   * maf_nll_backward after recordForward: the parameter gradients of the batch-mean −log q_z; with
   * an embedding, maf_embedded_nll_backward: the context gradient summed over the layers, then
   * the embedding's backward (its gradients after the flow's).
   */
  recordBackward(rec: PassRecorder, n: number): void {
    const D = this.maf.dim, K = this.maf.layers, em = this.embed;
    rec.dispatch(mafKey(this.maf, 'maf_base_backward'), this.uniforms(n), { 1: this.z, 5: this.gZ }, groups1d(n * D));
    for (let k = K - 1; k >= 0; k--) {
      const made = this.layers[k]![this.layers[k]!.length - 1]!;
      rec.dispatch(mafKey(this.maf, 'maf_backward'), this.uniforms(n), { 1: this.ins[k]!, 2: made, 3: this.gOut, 5: this.gZ }, groups1d(n * D));
      // layer 0's input is θ itself: no gradient needed there, unless its context is an embedding
      recordMlpBackward(rec, this.spec, {
        params: this.params, paramOffset: k * this.madeCount, input: this.ins[k]!, layers: this.layers[k]!, dOut: this.gOut, grads: this.grads,
        scratch: this.scratch, dInput: k > 0 || em ? this.gIn : null,
      }, n);
      if (em) {
        rec.dispatch(embeddingKey('embedding_context_backward'), this.embedUniforms(n, 0, k < K - 1), { 1: this.gIn, 3: em.gCtx },
          groups1d(n * this.maf.contextDim));
      }
      if (k > 0) rec.dispatch(mafKey(this.maf, 'maf_input_backward'), this.uniforms(n, { d0: 1 }), { 5: this.gZ, 6: this.gIn }, groups1d(n));
    }
    if (em) {
      recordMlpBackward(rec, em.spec, {
        params: this.params, paramOffset: this.flowP, input: em.input, layers: em.layers, dOut: em.gCtx, grads: this.grads,
        scratch: this.scratch, dInput: null,
      }, n);
    }
  }

  /** Mask, clip at global norm `clip`, one Adam step (sbi's betas and ε). */
  recordUpdate(rec: PassRecorder, lr: number, clip: number): void {
    const P = this.P;
    recordElementwise(rec, 'mask_multiply', { count: P }, this.mask, this.grads);
    recordElementwise(rec, 'sum_squares', { count: P }, this.grads, this.sumSq);
    recordElementwise(rec, 'clip_by_norm', { count: P, scale: clip }, this.sumSq, this.grads);
    recordAdamStep(rec, { count: P, step: ++this.adamStep, lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false },
      this.grads, this.params, this.moments);
  }

  /** One training step on rows order[first .. first + n) of `data`: gather, forward, backward, update; log q_z stays in logQ. */
  recordStep(rec: PassRecorder, data: DeviceRows, first: number, n: number, lr: number, clip: number): void {
    this.recordGather(rec, data, first, n);
    this.recordForward(rec, n);
    this.recordBackward(rec, n);
    this.recordUpdate(rec, lr, clip);
  }

  release(): void {
    bufferPool(this.gpu.device).release(
      this.params, this.grads, this.moments, this.mask, this.sumSq, this.logQ, ...this.ins, ...this.layers.flat(), this.z, this.gZ, this.gOut, this.gIn,
      ...this.scratch, ...(this.embed ? [this.embed.input, ...this.embed.layers, this.embed.gCtx] : []),
    );
  }
}

/** Rows resident on the device: θ [n, D], x [n, C] and a row order (u32) the gather reads. */
class DeviceRows {
  readonly theta: GPUBuffer;
  readonly x: GPUBuffer;
  readonly order: GPUBuffer;
  constructor(private readonly gpu: WebGpuContext, theta: Float32Array, x: Float32Array, readonly n: number) {
    const pool = bufferPool(gpu.device);
    this.theta = pool.acquire(4 * Math.max(1, theta.length), storage());
    upload(gpu.device.queue, this.theta, theta);
    this.x = pool.acquire(4 * Math.max(1, x.length), storage());
    if (x.length > 0) upload(gpu.device.queue, this.x, x);
    this.order = pool.acquire(4 * n, storage());
    this.setOrder(Int32Array.from({ length: n }, (_, i) => i));
  }
  setOrder(order: Int32Array): void {
    this.gpu.device.queue.writeBuffer(this.order, 0, order as Int32Array<ArrayBuffer>);
  }
  release(): void {
    bufferPool(this.gpu.device).release(this.theta, this.x, this.order);
  }
}


/**
 * Checks the batches of op flow.maf_train (finite rows of θ and x, x of width `xWidth`: the
 * context's, or the embedding's input width); returns their row counts.
 */
export function checkMafBatches(maf: MAF, batches: readonly MafBatch[], xWidth = maf.contextDim): number[] {
  if (!Array.isArray(batches) || batches.length === 0) throw new RangeError('Expected a non-empty array of batches for `batches`');
  return batches.map((b, i) => {
    if (typeof b !== 'object' || b === null) throw new TypeError(`Expected { theta, x } for \`batches[${i}]\` but received ${String(b)}`);
    const n = checkFiniteRows(b.theta, `batches[${i}].theta`, maf.dim, undefined, 'Float32Array', true);
    checkFiniteRows(b.x, `batches[${i}].x`, xWidth, n, 'Float32Array', true);
    checkRows(n);
    return n;
  });
}

export function stepOptions(o: MafStepOptions): { lr: number; clip: number } {
  return { lr: checkPositive(o.learningRate ?? 5e-4, 'learningRate'), clip: checkPositive(o.clipMaxNorm ?? 5, 'clipMaxNorm') };
}

/**
 * One training step per batch from `maf.params` (not modified): forward, backward, mask, clip,
 * Adam, all queued on the device (op flow.maf_train). Returns the final parameters and each
 * step's batch-mean −log q.
 */
export async function mafTrainStepsWebGpu(
  gpu: WebGpuContext, maf: MAF, batches: readonly MafBatch[], options: MafStepOptions = {},
): Promise<{ params: Float32Array; losses: Float64Array }> {
  return trainSteps(gpu, maf, null, batches, options);
}

/**
 * As mafTrainStepsWebGpu with an embedding network between each batch's x [nb, sizes[0]] and the
 * flow's context, trained jointly (op flow.maf_embedding_train: maf_embedded_nll_backward, one
 * clip and one Adam step over the flow's and the embedding's parameters). Returns both final
 * parameter vectors and each step's batch-mean −log q.
 */
export async function mafEmbeddingTrainStepsWebGpu(
  gpu: WebGpuContext, maf: MAF, embedding: MafEmbedding, batches: readonly MafBatch[], options: MafStepOptions = {},
): Promise<{ params: Float32Array; embeddingParams: Float32Array; losses: Float64Array }> {
  const t = await trainSteps(gpu, maf, embedding, batches, options);
  return { params: t.params.slice(0, maf.paramCount), embeddingParams: t.params.slice(maf.paramCount), losses: t.losses };
}

/** The steps of both ops; the returned parameters are the flow's then the embedding's. */
async function trainSteps(
  gpu: WebGpuContext, maf: MAF, embedding: MafEmbedding | null, batches: readonly MafBatch[], options: MafStepOptions,
): Promise<{ params: Float32Array; losses: Float64Array }> {
  const { lr, clip } = stepOptions(options);
  const espec = embedding ? embeddingSpec(maf, embedding) : null;
  const X = espec ? espec.sizes[0]! : maf.contextDim;
  const rowsOf = checkMafBatches(maf, batches, X);
  const total = rowsOf.reduce((s, n) => s + n, 0);
  const theta = new Float32Array(total * maf.dim), x = new Float32Array(total * X);
  let off = 0;
  batches.forEach((b, i) => {
    theta.set(b.theta, off * maf.dim);
    x.set(b.x, off * X);
    off += rowsOf[i]!;
  });
  const params = initialParams(maf, embedding);
  const { device } = gpu;
  const pool = bufferPool(device);
  const state = new MafTrainState(gpu, maf, params, Math.max(...rowsOf), espec);
  const data = new DeviceRows(gpu, theta, x, total);
  const staging = pool.acquire(4 * (total + state.P), GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
  const recorders: PassRecorder[] = [];
  try {
    await submitChecked(device, 'MAF training', () => {
      let first = 0;
      rowsOf.forEach((n, i) => {
        const rec = new PassRecorder(gpu);
        recorders.push(rec);
        state.recordStep(rec, data, first, n, lr, clip);
        rec.copyAfterPass(state.logQ, 0, staging, 4 * first, 4 * n);
        if (i + 1 === rowsOf.length) rec.copyAfterPass(state.params, 0, staging, 4 * total, 4 * state.P);
        rec.submit();
        first += n;
      });
    });
    const out = await readStaging(staging, total + state.P);
    let first = 0;
    const losses = Float64Array.from(rowsOf, (n) => {
      let s = 0;
      for (let r = 0; r < n; r++) s -= out[first + r]!;
      first += n;
      return s / n;
    });
    return { params: out.slice(total), losses };
  } finally {
    for (const r of recorders) r.release();
    pool.release(staging);
    data.release();
    state.release();
  }
}

/** The flow's parameters, then the embedding's when there is one, as one f32 vector (flow_trainer.cc's layout). */
function initialParams(maf: MAF, embedding: MafEmbedding | null): Float32Array {
  const flow = maf.params instanceof Float32Array ? maf.params : Float32Array.from(maf.params);
  if (!embedding) return flow;
  const all = new Float32Array(flow.length + embedding.params.length);
  all.set(flow);
  all.set(embedding.params, flow.length);
  return all;
}

/** Column mean and std (n − 1, floored) of rows `rows` of a [*, dim] matrix, in double (standardize_fit). */
export function fitColumns(a: Float32Array | Float64Array, dim: number, rows: Int32Array): { mean: Float64Array; std: Float64Array } {
  const mean = new Float64Array(dim), std = new Float64Array(dim);
  for (const r of rows) for (let j = 0; j < dim; j++) mean[j]! += a[r * dim + j]!;
  for (let j = 0; j < dim; j++) mean[j]! /= rows.length;
  for (const r of rows) {
    for (let j = 0; j < dim; j++) {
      const d = a[r * dim + j]! - mean[j]!;
      std[j]! += d * d;
    }
  }
  for (let j = 0; j < dim; j++) {
    const s = rows.length > 1 ? Math.sqrt(std[j]! / (rows.length - 1)) : 0;
    std[j] = s > MIN_STD ? s : MIN_STD;
  }
  return { mean, std };
}

/** Rows `rows` of a [*, dim] matrix, z-scored in double, as f32. */
export function zScore(a: Float32Array | Float64Array, dim: number, rows: Int32Array, s: { mean: Float64Array; std: Float64Array }): Float32Array {
  const out = new Float32Array(rows.length * dim);
  rows.forEach((r, i) => {
    for (let j = 0; j < dim; j++) out[i * dim + j] = (a[r * dim + j]! - s.mean[j]!) / s.std[j]!;
  });
  return out;
}

/**
 * Trains `maf` (initial parameters in maf.params, not modified) on θ [n, dim] and
 * x [n, contextDim] with native/flow_trainer.h's algorithm and randomness; resolves like
 * native.mafTrain (the best epoch's parameters, per-epoch losses of the original θ, z-scoring).
 * With `options.embedding`, x is [n, embedding.sizes[0]] and the embedding trains jointly, as
 * flow_trainer.cc trains it (its best parameters come back as `embeddingParams`).
 * A set `signal` rejects with SbiError ABORTED before the next epoch.
 */
export async function trainMafWebGpu(
  gpu: WebGpuContext, maf: MAF, theta: Float32Array, x: Float32Array, options: MafTrainWebGpuOptions,
): Promise<NativeMafTrainResult> {
  if (typeof options !== 'object' || options === null) throw new TypeError('Expected an options object with `seed`');
  const { lr, clip } = stepOptions(options);
  const espec = options.embedding !== undefined ? embeddingSpec(maf, options.embedding, 'options.embedding') : null;
  const D = maf.dim, C = espec ? espec.sizes[0]! : maf.contextDim; // x's width
  const n = checkFiniteRows(theta, 'theta', D, undefined, 'Float32Array', true);
  checkFiniteRows(x, 'x', C, n, 'Float32Array', true);
  const { batchSize, maxEpochs, patience, fraction } = epochOptions(options);
  const nVal = Math.floor(fraction * n), nTrain = n - nVal;
  if (nVal < 1 || nTrain < 2) {
    throw new RangeError(`Expected enough rows for a validation split (at least 1 validation and 2 training rows) but ${n} rows with validationFraction ${fraction} give ${nVal} validation rows`);
  }
  const { trainRows, valRows } = splitRows(options.seed, n, nTrain);
  const thetaStats = fitColumns(theta, D, trainRows), xStats = fitColumns(x, C, trainRows);
  let logStdSum = 0; // z-scoring θ's Jacobian: log q(θ | x) = log q_z − Σ log std
  for (let d = 0; d < D; d++) logStdSum += Math.log(thetaStats.std[d]!);

  const batch = Math.min(batchSize, nTrain);
  const evalRows = Math.max(batch, Math.min(nVal, 4096));
  const { device } = gpu;
  const pool = bufferPool(device);
  const init = initialParams(maf, options.embedding ?? null);
  const state = new MafTrainState(gpu, maf, init, evalRows, espec);
  const train = new DeviceRows(gpu, zScore(theta, D, trainRows, thetaStats), zScore(x, C, trainRows, xStats), nTrain);
  const val = new DeviceRows(gpu, zScore(theta, D, valRows, thetaStats), zScore(x, C, valRows, xStats), nVal);
  const shuffleRng = new PhiloxStream(options.seed, 1);
  const order = Int32Array.from({ length: nTrain }, (_, i) => i);
  try {
    const summary = await trainEpochsOnDevice(gpu, {
      params: state.params, init, paramCount: state.P, stagingFloats: nTrain + nVal, maxEpochs, patience, signal: options.signal, onEpoch: options.onEpoch,
    }, async (_epoch, recorders, staging) => {
      shuffle(shuffleRng, order);
      train.setOrder(order);
      await submitChecked(device, 'MAF training', () => {
        for (let start = 0; start < nTrain; start += batch) {
          const nb = Math.min(batch, nTrain - start);
          const rec = new PassRecorder(gpu);
          recorders.push(rec);
          state.recordStep(rec, train, start, nb, lr, clip);
          rec.copyAfterPass(state.logQ, 0, staging, 4 * start, 4 * nb);
          rec.submit();
        }
        for (let start = 0; start < nVal; start += evalRows) {
          const nv = Math.min(evalRows, nVal - start);
          const rec = new PassRecorder(gpu);
          recorders.push(rec);
          state.recordGather(rec, val, start, nv);
          state.recordForward(rec, nv);
          rec.copyAfterPass(state.logQ, 0, staging, 4 * (nTrain + start), 4 * nv);
          rec.submit();
        }
      });
      const logQ = await readStaging(staging, nTrain + nVal);
      let trainSum = 0, valSum = 0;
      for (let i = 0; i < nTrain; i++) trainSum -= logQ[i]!;
      for (let i = nTrain; i < nTrain + nVal; i++) valSum -= logQ[i]!;
      return { trainLoss: trainSum / nTrain + logStdSum, validationLoss: valSum / nVal + logStdSum };
    });
    const fit = { ...summary, ...zScoring(thetaStats, xStats) };
    return espec ? { ...fit, params: summary.params.slice(0, maf.paramCount), embeddingParams: summary.params.slice(maf.paramCount) } : fit;
  } finally {
    train.release();
    val.release();
    state.release();
  }
}
