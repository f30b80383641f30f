/// <reference types="@webgpu/types" />
/**
 * NRE's residual classifier on the WebGPU device (kernels/nn/resnet.wgsl with the dense layers of
 * kernels/nn/dense.wgsl, mirroring kernels/nn/resnet.h, residual.h and ratio_loss.h): the
 * classifier's logits for a batch of (θ, x) pairs (op nre.log_ratio) and training steps
 * (op nre.train: gather the pairs, forward, the NRE loss, backward through the residual blocks,
 * clip at global norm, Adam), all in one command buffer per step.
 *
 * The parameters are resnet.h's flat vector: W_in [H, in], b_in, then per block W1, b1, W2, b2,
 * then W_out [1, H], b_out. Each part is an MLP of dense.wgsl on its slice: the input layer
 * [in, H] (linear), block b's [H, H, H] (ReLU after the first layer, linear second: residual.h's
 * Y1 and T), the output layer [H, 1]; resnet.wgsl adds the pre-activation A0 = relu(h), the skip
 * connection h + T and, backwards, dh = dY + dA0 ⊙ relu'(h). f32 throughout; the sums run in tile
 * order, so results agree with the CPU's float kernels to f32 rounding (docs/backends.md).
 */
import {
  PassRecorder, acquireMlpLayers, groups1d, recordAdamStep, recordElementwise, recordMlpBackward, recordMlpForward, storage, upload, words, type MlpSpec,
} from './nn_webgpu.js';
import {
  checkRatioBatches, checkRatioClassifier, checkRatioEmbeddingStep, checkRatioLoss, checkRatioPairs, checkRatioShape, ratioInputRows, ratioLogitsPerRow, ratioLossCode,
  ratioNetSize, ratioStepOptions, type RatioBatch, type RatioClassifier, type RatioLossSpec, type RatioShape, type RatioStepOptions,
} from './ratio_ops.js';
import { recordEmbeddingGather } from './flow_train_webgpu.js';
import { bufferPool, readStaging, submitChecked, type PipelineKey, type WebGpuContext } from './webgpu.js';

const ELT = 64;
/** Pairs per forward of nre.log_ratio (bounds the device memory of one call). */
const LOG_RATIO_CHUNK = 8192;

const resKey = (entryPoint: string): PipelineKey => ({ file: 'nn/resnet.wgsl', entryPoint, constants: { workgroup_size: ELT } });

/** ResParams of resnet.wgsl. */
function resWords(u: { count: number; inDim?: number; thetaDim?: number; first?: number; loss?: RatioLossSpec }): Uint32Array<ArrayBuffer> {
  const l = u.loss;
  const gamma = l?.gamma ?? 1;
  const K = l?.classes ?? 1;
  return words([
    u.count, u.inDim ?? 0, u.thetaDim ?? 0, u.first ?? 0, l ? ratioLossCode(l) : 0, K,
    Math.log(gamma), Math.log(K), 1 / (1 + gamma), gamma / (1 + gamma), l?.lambda ?? 0, 0,
  ], new Set([6, 7, 8, 9, 10]));
}

/**
 * The classifier's device state for up to `rows` pairs: parameters, every layer's activations and
 * (when training) gradients, Adam's moments and the backward's buffers. With an embedding network
 * (shape.embeddingSizes; `params` then holds the classifier's parameters followed by the
 * embedding's, ratio_trainer.cc's layout: one clip, one Adam), also the embedding's input rows,
 * activations and output gradient for up to `xRows` x rows.
 */
export class ResNetDevice {
  readonly inDim: number;
  /** The classifier's parameters (resnet.h), then the embedding's. */
  readonly paramCount: number;
  private readonly netParams: number;
  private readonly embed: {
    spec: MlpSpec; input: GPUBuffer; layers: GPUBuffer[]; dFeat: GPUBuffer; dInput: GPUBuffer; scratch: [GPUBuffer, GPUBuffer];
  } | null;
  readonly params: GPUBuffer;
  /** The input rows [rows, in] (written by the caller or by recordGather). */
  readonly input: GPUBuffer;
  /** The logits [rows]. */
  readonly logits: GPUBuffer;
  /** Per batch row: the loss term and, for NRE-A / BNRE, Σσ ([rows, 2]). */
  readonly terms: GPUBuffer;
  private readonly h: GPUBuffer[];
  private readonly a0: GPUBuffer[];
  private readonly y1: GPUBuffer[];
  private readonly t: GPUBuffer;
  private readonly train: {
    grads: GPUBuffer; moments: GPUBuffer; sumSq: GPUBuffer; dlogits: GPUBuffer; g: [GPUBuffer, GPUBuffer]; s: [GPUBuffer, GPUBuffer];
  } | null;
  private readonly inSpec: MlpSpec;
  private readonly blockSpec: MlpSpec;
  private readonly outSpec: MlpSpec;
  private adamStep = 0;

  constructor(
    private readonly gpu: WebGpuContext, readonly shape: RatioShape, params: Float32Array, readonly rows: number, training: boolean, xRows = rows,
  ) {
    const pool = bufferPool(gpu.device);
    const { inDim, paramCount: netParams, embeddingParamCount } = ratioNetSize(shape);
    const paramCount = netParams + embeddingParamCount;
    const H = shape.hidden, B = shape.blocks;
    this.inDim = inDim;
    this.netParams = netParams;
    this.paramCount = paramCount;
    const es = shape.embeddingSizes;
    if (es) {
      const spec: MlpSpec = { sizes: [...es], activation: 'relu' };
      const widest = 4 * xRows * Math.max(...es);
      this.embed = {
        spec, input: pool.acquire(4 * xRows * es[0]!, storage()), layers: acquireMlpLayers(gpu.device, spec, xRows),
        dFeat: pool.acquire(4 * xRows * es[es.length - 1]!, storage()),
        dInput: pool.acquire(4 * (training ? rows * inDim : 1), storage()),
        scratch: [pool.acquire(widest, storage()), pool.acquire(widest, storage())],
      };
    } else {
      this.embed = null;
    }
    this.inSpec = { sizes: [inDim, H], activation: 'identity' };
    this.blockSpec = { sizes: [H, H, H], activation: 'relu' };
    this.outSpec = { sizes: [H, 1], activation: 'identity' };
    const act = () => pool.acquire(4 * rows * H, storage());
    this.params = pool.acquire(4 * paramCount, storage());
    upload(gpu.device.queue, this.params, params);
    this.input = pool.acquire(4 * rows * inDim, storage());
    this.logits = pool.acquire(4 * rows, storage());
    this.terms = pool.acquire(8 * rows, storage());
    this.h = Array.from({ length: B + 1 }, act);
    this.a0 = Array.from({ length: B }, act);
    this.y1 = Array.from({ length: B }, act);
    this.t = act();
    if (training) {
      const moments = pool.acquire(8 * paramCount, storage());
      gpu.device.queue.writeBuffer(moments, 0, new Float32Array(2 * paramCount));
      this.train = {
        grads: pool.acquire(4 * paramCount, storage()), moments, sumSq: pool.acquire(4, storage()), dlogits: pool.acquire(4 * rows, storage()),
        g: [act(), act()], s: [act(), act()],
      };
    } else {
      this.train = null;
    }
  }

  /** Offset of block b's W1 (b = blocks: the output layer's W_out), as resnet_block_offset. */
  private blockOffset(b: number): number {
    const H = this.shape.hidden;
    return H * (this.inDim + 1) + b * 2 * H * (H + 1);
  }

  /**
   * The embedding e_φ of nx x rows: rows xRows[first .. first + nx) of the z-scored x (embedding_gather
   * of kernels/flows/maf_embedding.wgsl, the same x-row gather NPE's embedding uses), then the MLP;
   * returns the features [nx, E] for recordGather.
   */
  recordEmbed(rec: PassRecorder, x: GPUBuffer, xRows: GPUBuffer, first: number, nx: number): GPUBuffer {
    const em = this.embedding();
    const X = em.spec.sizes[0]!;
    recordEmbeddingGather(rec, x, xRows, em.input, first, nx, X);
    recordMlpForward(rec, em.spec, this.params, this.netParams, em.input, em.layers, nx);
    return em.layers[em.layers.length - 1]!;
  }

  private embedding(): NonNullable<ResNetDevice['embed']> {
    if (!this.embed) throw new Error('This ResNetDevice has no embedding network');
    return this.embed;
  }

  /** ratio_gather: input rows of pairs [first, first + m) of `pairs` from the z-scored θ and x rows (or x's features). */
  recordGather(rec: PassRecorder, theta: GPUBuffer, x: GPUBuffer, pairs: GPUBuffer, first: number, m: number): void {
    rec.dispatch(resKey('ratio_gather'), resWords({ count: m, inDim: this.inDim, thetaDim: this.shape.thetaDim, first }),
      { 1: theta, 2: x, 3: this.input, 4: pairs }, groups1d(m * this.inDim));
  }

  /** resnet_forward of m input rows: logits [m]; every block's activations kept. */
  recordForward(rec: PassRecorder, m: number): void {
    const H = this.shape.hidden, B = this.shape.blocks, count = m * H;
    recordMlpForward(rec, this.inSpec, this.params, 0, this.input, [this.h[0]!], m);
    for (let b = 0; b < B; b++) {
      rec.dispatch(resKey('residual_act'), resWords({ count }), { 1: this.h[b]!, 3: this.a0[b]! }, groups1d(count));
      recordMlpForward(rec, this.blockSpec, this.params, this.blockOffset(b), this.a0[b]!, [this.y1[b]!, this.t], m);
      rec.dispatch(resKey('residual_add'), resWords({ count }), { 1: this.h[b]!, 2: this.t, 3: this.h[b + 1]! }, groups1d(count));
    }
    recordMlpForward(rec, this.outSpec, this.params, this.blockOffset(B), this.h[B]!, [this.logits], m);
  }

  /** ratio_loss of nb batch rows (logits [nb, A]): ∂loss/∂logits and the per-row terms. */
  recordLoss(rec: PassRecorder, loss: RatioLossSpec, nb: number): void {
    const t = this.training();
    rec.dispatch(resKey('ratio_loss_rows'), resWords({ count: nb, loss }), { 1: this.logits, 3: t.dlogits, 5: this.terms }, groups1d(nb));
    if (loss.variant === 'bnre') rec.dispatch(resKey('ratio_balance'), resWords({ count: nb, loss }), { 1: this.logits, 3: t.dlogits, 5: this.terms }, [1, 1]);
  }

  /**
   * resnet_backward of m pairs after recordForward and recordLoss: the parameter gradients; with
   * an embedding, on through the features of the batch's nx x rows (m = nx · A) to φ.
   */
  recordBackward(rec: PassRecorder, m: number, nx = 0): void {
    const t = this.training();
    const H = this.shape.hidden, B = this.shape.blocks, count = m * H;
    const [dh, dA0] = t.g;
    recordMlpBackward(rec, this.outSpec, {
      params: this.params, paramOffset: this.blockOffset(B), input: this.h[B]!, layers: [this.logits], dOut: t.dlogits, grads: t.grads, scratch: t.s, dInput: dh,
    }, m);
    for (let b = B - 1; b >= 0; b--) {
      recordMlpBackward(rec, this.blockSpec, {
        params: this.params, paramOffset: this.blockOffset(b), input: this.a0[b]!, layers: [this.y1[b]!, this.t], dOut: dh, grads: t.grads, scratch: t.s, dInput: dA0,
      }, m);
      // dh ← dh + dA0 ⊙ relu'(h_b) in place: the skip path plus the path through both layers
      rec.dispatch(resKey('residual_input_backward'), resWords({ count }), { 1: this.a0[b]!, 2: dA0, 3: dh }, groups1d(count));
    }
    const em = this.embed;
    recordMlpBackward(rec, this.inSpec, {
      params: this.params, paramOffset: 0, input: this.input, layers: [this.h[0]!], dOut: dh, grads: t.grads, scratch: t.s, dInput: em ? em.dInput : null,
    }, m);
    if (!em) return;
    // ratio_embedded_loss_backward's tail: the features' gradient (A pairs per x row), then the embedding's backward
    if (!(nx >= 1) || m % nx !== 0) throw new Error(`recordBackward: ${m} pairs are not A pairs for each of ${nx} x rows`);
    const A = m / nx;
    const E = em.spec.sizes[em.spec.sizes.length - 1]!;
    rec.dispatch(resKey('ratio_scatter_features'), resWords({ count: nx * E, inDim: this.inDim, thetaDim: this.shape.thetaDim, first: A }),
      { 1: em.dInput, 3: em.dFeat }, groups1d(nx * E));
    recordMlpBackward(rec, em.spec, {
      params: this.params, paramOffset: this.netParams, input: em.input, layers: em.layers, dOut: em.dFeat, grads: t.grads, scratch: em.scratch, dInput: null,
    }, nx);
  }

  /** clip_grad_norm at `clip` (on the device) and one Adam step (sbi's betas and ε). */
  recordUpdate(rec: PassRecorder, lr: number, clip: number): void {
    const t = this.training();
    const P = this.paramCount;
    recordElementwise(rec, 'sum_squares', { count: P }, t.grads, t.sumSq);
    recordElementwise(rec, 'clip_by_norm', { count: P, scale: clip }, t.sumSq, t.grads);
    recordAdamStep(rec, { count: P, step: ++this.adamStep, lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false },
      t.grads, this.params, t.moments);
  }

  /** The gradients buffer (valid after recordBackward, before recordUpdate clips it). */
  get grads(): GPUBuffer {
    return this.training().grads;
  }

  private training(): NonNullable<ResNetDevice['train']> {
    if (!this.train) throw new Error('This ResNetDevice was made for evaluation only');
    return this.train;
  }

  release(): void {
    const t = this.train;
    bufferPool(this.gpu.device).release(
      this.params, this.input, this.logits, this.terms, ...this.h, ...this.a0, ...this.y1, this.t,
      ...(t ? [t.grads, t.moments, t.sumSq, t.dlogits, ...t.g, ...t.s] : []),
      ...(this.embed ? [this.embed.input, ...this.embed.layers, this.embed.dFeat, this.embed.dInput, ...this.embed.scratch] : []),
    );
  }
}

/**
 * The batch-mean loss of nb rows from their terms ([nb, 2] f32: term, Σσ), in double: ratio_loss's
 * scaling of the summed terms (and BNRE's balance penalty).
 */
export function ratioLossFromTerms(loss: RatioLossSpec, terms: Float32Array, at: number, nb: number): number {
  let sum = 0, balance = 0;
  for (let i = 0; i < nb; i++) {
    sum += terms[2 * (at + i)]!;
    balance += terms[2 * (at + i) + 1]!;
  }
  if (loss.variant === 'b') return sum / nb;
  if (loss.variant === 'c') return -sum / nb;
  const value = sum / (2 * nb);
  if (loss.variant === 'a') return value;
  const b = balance / nb - 1;
  return value + loss.lambda * b * b;
}

/** nre.log_ratio on the device: f(θ_i, x_i) per row; x one row per θ row or one observation for all. */
export async function nreLogRatioWebGpu(gpu: WebGpuContext, net: RatioClassifier, theta: Float64Array, x: Float64Array): Promise<Float64Array> {
  checkRatioClassifier(net);
  if (net.embeddingSizes) return embeddedLogRatio(gpu, net, theta, x);
  const rows = checkRatioPairs(net, theta, x);
  const chunk = Math.min(rows, LOG_RATIO_CHUNK);
  const { device } = gpu;
  const pool = bufferPool(device);
  const state = new ResNetDevice(gpu, net, net.params, chunk, false);
  const staging = pool.acquire(4 * rows, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
  const recorders: PassRecorder[] = [];
  try {
    await submitChecked(device, 'NRE log-ratio', () => {
      for (let first = 0; first < rows; first += chunk) {
        const m = Math.min(chunk, rows - first);
        upload(device.queue, state.input, ratioInputRows(net, theta, x, first, m));
        const rec = new PassRecorder(gpu);
        recorders.push(rec);
        state.recordForward(rec, m);
        rec.copyAfterPass(state.logits, 0, staging, 4 * first, 4 * m);
        rec.submit();
      }
    });
    return Float64Array.from(await readStaging(staging, rows));
  } finally {
    for (const r of recorders) r.release();
    pool.release(staging);
    state.release();
  }
}

/** Rows [first, first + rows) of a [*, dim] double matrix z-scored in double and rounded once (RatioLogits). */
function zScoredRows(a: Float64Array, dim: number, mean: Float64Array, std: Float64Array, first: number, rows: number): Float32Array {
  const out = new Float32Array(rows * dim);
  for (let q = 0; q < rows; q++) for (let j = 0; j < dim; j++) out[q * dim + j] = (a[(first + q) * dim + j]! - mean[j]!) / std[j]!;
  return out;
}

/**
 * nre.log_ratio with an embedding network (RatioLogits with embed_sizes): z(θ) and z(x) on the
 * host in double, rounded once; e_φ(z(x)) on the device (a broadcast observation: its one row,
 * once per chunk of pairs), the pairs [z(θ)_q, e_φ(z(x))_q] gathered there, then the classifier.
 */
async function embeddedLogRatio(gpu: WebGpuContext, net: RatioClassifier, theta: Float64Array, x: Float64Array): Promise<Float64Array> {
  const rows = checkRatioPairs(net, theta, x);
  const D = net.thetaDim, C = net.xDim;
  const broadcast = x.length === C;
  const chunk = Math.min(rows, LOG_RATIO_CHUNK);
  const xChunk = broadcast ? 1 : chunk;
  const { device } = gpu;
  const pool = bufferPool(device);
  const all = new Float32Array(net.params.length + net.embeddingParams!.length);
  all.set(net.params);
  all.set(net.embeddingParams!, net.params.length);
  const state = new ResNetDevice(gpu, net, all, chunk, false, xChunk);
  const thetaBuf = pool.acquire(4 * chunk * D, storage()), xBuf = pool.acquire(4 * xChunk * C, storage());
  const xRows = pool.acquire(4 * xChunk, storage()), pairs = pool.acquire(8 * chunk, storage());
  device.queue.writeBuffer(xRows, 0, Uint32Array.from({ length: xChunk }, (_, i) => i));
  const pairTable = new Uint32Array(2 * chunk); // pair q: θ row q, x row q (0 for a broadcast observation)
  for (let q = 0; q < chunk; q++) {
    pairTable[2 * q] = q;
    pairTable[2 * q + 1] = broadcast ? 0 : q;
  }
  device.queue.writeBuffer(pairs, 0, pairTable);
  if (broadcast) upload(device.queue, xBuf, zScoredRows(x, C, net.xMean, net.xStd, 0, 1));
  const staging = pool.acquire(4 * rows, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
  const recorders: PassRecorder[] = [];
  try {
    await submitChecked(device, 'NRE log-ratio', () => {
      for (let first = 0; first < rows; first += chunk) {
        const m = Math.min(chunk, rows - first);
        upload(device.queue, thetaBuf, zScoredRows(theta, D, net.thetaMean, net.thetaStd, first, m));
        if (!broadcast) upload(device.queue, xBuf, zScoredRows(x, C, net.xMean, net.xStd, first, m));
        const rec = new PassRecorder(gpu);
        recorders.push(rec);
        const feat = state.recordEmbed(rec, xBuf, xRows, 0, broadcast ? 1 : m);
        state.recordGather(rec, thetaBuf, feat, pairs, 0, m);
        state.recordForward(rec, m);
        rec.copyAfterPass(state.logits, 0, staging, 4 * first, 4 * m);
        rec.submit();
      }
    });
    return Float64Array.from(await readStaging(staging, rows));
  } finally {
    for (const r of recorders) r.release();
    pool.release(staging, thetaBuf, xBuf, xRows, pairs);
    state.release();
  }
}

/**
 * nre.embedding_train on the device: as nreTrainStepsWebGpu with the embedding network of
 * s.embeddingSizes trained jointly (ratio_embedded_loss_backward: embed the batch's x rows, gather
 * the pairs on their features, the classifier, the loss, both backwards; one clip and one Adam
 * step over both parameter vectors). Returns both final vectors and each step's loss.
 */
export async function nreEmbeddingTrainStepsWebGpu(
  gpu: WebGpuContext, s: RatioShape, params: Float32Array, embeddingParams: Float32Array, loss: RatioLossSpec, batches: readonly RatioBatch[],
  options: RatioStepOptions = {},
): Promise<{ params: Float32Array; embeddingParams: Float32Array; losses: Float64Array }> {
  const { P, Q } = checkRatioEmbeddingStep(s, params, embeddingParams, loss);
  const all = new Float32Array(P + Q);
  all.set(params);
  all.set(embeddingParams, P);
  const t = await trainSteps(gpu, s, all, loss, batches, options);
  return { params: t.params.slice(0, P), embeddingParams: t.params.slice(P), losses: t.losses };
}

/**
 * nre.train on the device: one step per batch from `params` (not modified), each a command buffer
 * (gather, forward, loss, backward, clip, Adam); the final parameters and each step's loss.
 */
export async function nreTrainStepsWebGpu(
  gpu: WebGpuContext, s: RatioShape, params: Float32Array, loss: RatioLossSpec, batches: readonly RatioBatch[], options: RatioStepOptions = {},
): Promise<{ params: Float32Array; losses: Float64Array }> {
  checkRatioShape(s);
  if (s.embeddingSizes) throw new TypeError('Expected no `embeddingSizes` for op nre.train (op nre.embedding_train trains an embedding network)');
  checkRatioLoss(loss);
  const { paramCount } = ratioNetSize(s);
  if (!(params instanceof Float32Array) || params.length !== paramCount || !params.every(Number.isFinite)) {
    throw new RangeError(`Expected \`params\` to be a Float32Array of ${paramCount} finite values`);
  }
  return trainSteps(gpu, s, params, loss, batches, options);
}

/**
 * The steps of nre.train and nre.embedding_train from `params` (the classifier's, then the
 * embedding's when s has one), checked by the callers.
 */
async function trainSteps(
  gpu: WebGpuContext, s: RatioShape, params: Float32Array, loss: RatioLossSpec, batches: readonly RatioBatch[], options: RatioStepOptions,
): Promise<{ params: Float32Array; losses: Float64Array }> {
  const paramCount = params.length;
  const embedded = s.embeddingSizes !== undefined;
  const { lr, clip } = ratioStepOptions(options);
  const rowsOf = checkRatioBatches(s, loss, batches);
  const A = ratioLogitsPerRow(loss), D = s.thetaDim, C = s.xDim;
  const total = rowsOf.reduce((a, n) => a + n, 0);
  // every batch's rows in one upload; pair p of batch i: [its θ row, its x row] in that upload
  // (with an embedding, its x row within the batch: the row of the batch's features)
  const theta = new Float32Array(total * D), x = new Float32Array(total * C), pairs = new Uint32Array(2 * total * A);
  let off = 0;
  batches.forEach((b, i) => {
    theta.set(b.theta, off * D);
    x.set(b.x, off * C);
    for (let p = 0; p < rowsOf[i]! * A; p++) {
      pairs[2 * (off * A + p)] = off + b.pairTheta[p]!;
      pairs[2 * (off * A + p) + 1] = (embedded ? 0 : off) + Math.floor(p / A);
    }
    off += rowsOf[i]!;
  });
  const { device } = gpu;
  const pool = bufferPool(device);
  const maxRows = Math.max(...rowsOf);
  const state = new ResNetDevice(gpu, s, params, maxRows * A, true, maxRows);
  const thetaBuf = pool.acquire(4 * theta.length, storage()), xBuf = pool.acquire(4 * x.length, storage());
  const pairBuf = pool.acquire(4 * pairs.length, storage());
  const xRows = pool.acquire(4 * total, storage());
  upload(device.queue, thetaBuf, theta);
  upload(device.queue, xBuf, x);
  device.queue.writeBuffer(pairBuf, 0, pairs);
  device.queue.writeBuffer(xRows, 0, Uint32Array.from({ length: total }, (_, i) => i));
  const staging = pool.acquire(4 * (2 * total + paramCount), GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
  const recorders: PassRecorder[] = [];
  try {
    await submitChecked(device, 'NRE training', () => {
      let first = 0;
      rowsOf.forEach((nb, i) => {
        const rec = new PassRecorder(gpu);
        recorders.push(rec);
        const features = embedded ? state.recordEmbed(rec, xBuf, xRows, first, nb) : xBuf;
        state.recordGather(rec, thetaBuf, features, pairBuf, first * A, nb * A);
        state.recordForward(rec, nb * A);
        state.recordLoss(rec, loss, nb);
        state.recordBackward(rec, nb * A, nb);
        state.recordUpdate(rec, lr, clip);
        rec.copyAfterPass(state.terms, 0, staging, 8 * first, 8 * nb);
        if (i + 1 === rowsOf.length) rec.copyAfterPass(state.params, 0, staging, 8 * total, 4 * paramCount);
        rec.submit();
        first += nb;
      });
    });
    const out = await readStaging(staging, 2 * total + paramCount);
    let first = 0;
    const losses = Float64Array.from(rowsOf, (nb) => {
      const value = ratioLossFromTerms(loss, out, first, nb);
      first += nb;
      return value;
    });
    return { params: out.slice(2 * total), losses };
  } finally {
    for (const r of recorders) r.release();
    pool.release(staging, thetaBuf, xBuf, pairBuf, xRows);
    state.release();
  }
}

/**
 * The batch-mean loss of one batch and its parameter gradient on the device (no clipping, no
 * step): what nre.train's steps start from, for gradient checks.
 */
export async function nreLossGradientWebGpu(
  gpu: WebGpuContext, s: RatioShape, params: Float32Array, loss: RatioLossSpec, batch: RatioBatch,
): Promise<{ loss: number; grads: Float32Array }> {
  checkRatioShape(s);
  if (s.embeddingSizes) throw new TypeError('Expected no `embeddingSizes`: nreLossGradientWebGpu takes the classifier alone');
  checkRatioLoss(loss);
  const [nb] = checkRatioBatches(s, loss, [batch]) as [number];
  const { paramCount } = ratioNetSize(s);
  if (!(params instanceof Float32Array) || params.length !== paramCount || !params.every(Number.isFinite)) {
    throw new RangeError(`Expected \`params\` to be a Float32Array of ${paramCount} finite values`);
  }
  const A = ratioLogitsPerRow(loss), m = nb * A;
  const { device } = gpu;
  const pool = bufferPool(device);
  const state = new ResNetDevice(gpu, s, params, m, true);
  const pairs = new Uint32Array(2 * m);
  for (let p = 0; p < m; p++) {
    pairs[2 * p] = batch.pairTheta[p]!;
    pairs[2 * p + 1] = Math.floor(p / A);
  }
  const thetaBuf = pool.acquire(4 * batch.theta.length, storage()), xBuf = pool.acquire(4 * batch.x.length, storage());
  const pairBuf = pool.acquire(4 * pairs.length, storage());
  upload(device.queue, thetaBuf, batch.theta);
  upload(device.queue, xBuf, batch.x);
  device.queue.writeBuffer(pairBuf, 0, pairs);
  const staging = pool.acquire(4 * (2 * nb + paramCount), GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
  const rec = new PassRecorder(gpu);
  try {
    await submitChecked(device, 'NRE gradient', () => {
      state.recordGather(rec, thetaBuf, xBuf, pairBuf, 0, m);
      state.recordForward(rec, m);
      state.recordLoss(rec, loss, nb);
      state.recordBackward(rec, m);
      rec.copyAfterPass(state.terms, 0, staging, 0, 8 * nb);
      rec.copyAfterPass(state.grads, 0, staging, 8 * nb, 4 * paramCount);
      rec.submit();
    });
    const out = await readStaging(staging, 2 * nb + paramCount);
    return { loss: ratioLossFromTerms(loss, out, 0, nb), grads: out.slice(2 * nb) };
  } finally {
    rec.release();
    pool.release(staging, thetaBuf, xBuf, pairBuf);
    state.release();
  }
}
