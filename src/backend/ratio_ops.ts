/**
 * The ops of neural ratio estimation's classifier (docs/backends.md): `nre.log_ratio` (the trained
 * residual classifier's logit log r(θ, x) for a batch of pairs) and `nre.train` (training steps:
 * forward, the NRE loss, backward through the residual blocks, clip, Adam), their shared types and
 * checks, the CPU side of both (the native addon: nreLogRatio, nreNetForward, nreLoss,
 * nnClipGradNorm, nnAdamStep; the reference the WebGPU kernels of resnet_webgpu.ts are compared
 * with), and the CPU trainer's randomness mirrored in TypeScript (native/ratio_trainer.cc:
 * initialisation and contrasting pairs), so that a device trainer takes the CPU's steps.
 */
import { mlpParamCount } from '../inference/embedding.js';
import { native } from '../native.js';
import type { NativeRatioLoss } from '../native.js';
import { PhiloxStream } from '../random/philox.js';

/**
 * The classifier's shape: a ReLU residual network on [z(θ), z(x)] (native/ratio_trainer.h ResNetOf),
 * or on [z(θ), e_φ(z(x))] with an embedding network (kernels/nn/ratio_embedding.h): a ReLU MLP
 * with widths embeddingSizes [xDim, …, E], identity output.
 */
export interface RatioShape {
  thetaDim: number;
  xDim: number;
  hidden: number;
  blocks: number;
  embeddingSizes?: readonly number[];
}

/** A trained classifier: resnet.h parameters and the z-scoring of θ and x (NativeRatioTrainResult's). */
export interface RatioClassifier extends RatioShape {
  params: Float32Array;
  /** With embeddingSizes: the embedding's parameters (mlp.h layout). */
  embeddingParams?: Float32Array;
  thetaMean: Float64Array;
  thetaStd: Float64Array;
  xMean: Float64Array;
  xStd: Float64Array;
}

/** An NRE loss with every field set (kernels/nn/ratio_loss.h RatioLossConfig). */
export type RatioLossSpec = Required<NativeRatioLoss>;

/**
 * One training batch of op nre.train: z-scored θ [nb, thetaDim] and x [nb, xDim], and the θ row
 * (of this batch) of every pair, pairTheta [nb · A] (A logits per row: 2 for NRE-A and BNRE, K for
 * NRE-B, 2K for NRE-C); pair p scores x row ⌊p / A⌋.
 */
export interface RatioBatch {
  theta: Float32Array;
  x: Float32Array;
  pairTheta: Int32Array;
}

export interface RatioStepOptions {
  /** Adam's learning rate (default 5e-4, as sbi). */
  learningRate?: number;
  /** Gradients are scaled to this global norm when longer (default 5, as sbi). */
  clipMaxNorm?: number;
}

const VARIANT_CODE = { a: 0, b: 1, c: 2, bnre: 3 } as const;

/** ratio_loss.h's RatioLoss code of a variant. */
export function ratioLossCode(loss: RatioLossSpec): number {
  return VARIANT_CODE[loss.variant];
}

/** ratio_logits_per_row: logits per batch row. */
export function ratioLogitsPerRow(loss: RatioLossSpec): number {
  return loss.variant === 'b' ? loss.classes : loss.variant === 'c' ? 2 * loss.classes : 2;
}

/** RatioMinBatchRows: rows a batch needs for its distinct contrasts. */
export function ratioMinBatchRows(loss: RatioLossSpec): number {
  return (loss.variant === 'b' ? loss.classes - 1 : loss.variant === 'c' ? loss.classes : 1) + 1;
}

/**
 * The classifier's input width D + C (D + E with an embedding) and parameter count
 * (resnet_param_count with one output); embeddingParamCount: the embedding's (0 without).
 */
export function ratioNetSize(s: RatioShape): { inDim: number; paramCount: number; embeddingParamCount: number } {
  const e = s.embeddingSizes;
  const inDim = s.thetaDim + (e ? e[e.length - 1]! : s.xDim), H = s.hidden;
  return { inDim, paramCount: H * (inDim + 1) + s.blocks * 2 * H * (H + 1) + H + 1, embeddingParamCount: e ? mlpParamCount(e) : 0 };
}

function checkInteger(v: unknown, name: string, lo: number, hi: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < lo || v > hi) {
    throw new RangeError(`Expected an integer in [${lo}, ${hi}] for \`${name}\` but received ${String(v)}`);
  }
  return v;
}

function checkFinite(a: unknown, name: string, length: number, type: typeof Float32Array | typeof Float64Array): void {
  if (!(a instanceof type)) throw new TypeError(`Expected a ${type.name} for \`${name}\` but received ${Object.prototype.toString.call(a)}`);
  if (a.length !== length) throw new RangeError(`Expected ${length} values in \`${name}\` but received ${a.length}`);
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i]!)) throw new RangeError(`Expected finite values in \`${name}\` but index ${i} is ${a[i]}`);
  }
}

export function checkRatioShape(s: RatioShape): void {
  if (typeof s !== 'object' || s === null) throw new TypeError(`Expected a classifier shape { thetaDim, xDim, hidden, blocks } but received ${String(s)}`);
  checkInteger(s.thetaDim, 'thetaDim', 1, 1 << 16);
  checkInteger(s.xDim, 'xDim', 1, 1 << 16);
  checkInteger(s.hidden, 'hidden', 1, 4096);
  checkInteger(s.blocks, 'blocks', 0, 64);
  const e = s.embeddingSizes;
  if (e === undefined) return;
  if (!Array.isArray(e) && !ArrayBuffer.isView(e)) throw new TypeError(`Expected an array of widths for \`embeddingSizes\` but received ${String(e)}`);
  if (e.length < 2 || e.length > 65) throw new RangeError(`Expected 2 to 65 widths in \`embeddingSizes\` but received ${e.length}`);
  for (let l = 0; l < e.length; l++) checkInteger(e[l], `embeddingSizes[${l}]`, 1, 1 << 16);
  if (e[0] !== s.xDim) throw new RangeError(`Expected \`embeddingSizes[0]\` to be xDim = ${s.xDim} but received ${e[0]}`);
}

export function checkRatioClassifier(net: RatioClassifier): void {
  checkRatioShape(net);
  const size = ratioNetSize(net);
  checkFinite(net.params, 'params', size.paramCount, Float32Array);
  if (net.embeddingSizes) checkFinite(net.embeddingParams, 'embeddingParams', size.embeddingParamCount, Float32Array);
  checkFinite(net.thetaMean, 'thetaMean', net.thetaDim, Float64Array);
  checkFinite(net.thetaStd, 'thetaStd', net.thetaDim, Float64Array);
  checkFinite(net.xMean, 'xMean', net.xDim, Float64Array);
  checkFinite(net.xStd, 'xStd', net.xDim, Float64Array);
}

export function checkRatioLoss(loss: RatioLossSpec): void {
  if (typeof loss !== 'object' || loss === null || !(loss.variant in VARIANT_CODE)) {
    throw new RangeError(`Expected a loss { variant: "a" | "b" | "c" | "bnre", classes, gamma, lambda } but received ${JSON.stringify(loss)}`);
  }
  checkInteger(loss.classes, 'classes', loss.variant === 'b' ? 2 : 1, 64);
  if (!(loss.gamma > 0) || !Number.isFinite(loss.gamma)) throw new RangeError(`Expected a positive finite \`gamma\` but received ${loss.gamma}`);
  if (!(loss.lambda >= 0) || !Number.isFinite(loss.lambda)) throw new RangeError(`Expected a non-negative finite \`lambda\` but received ${loss.lambda}`);
}

/** Rows of θ [rows, thetaDim] (finite) and x: one row per θ row, or one observation [xDim] for all. */
export function checkRatioPairs(net: RatioShape, theta: Float64Array, x: Float64Array): number {
  if (!(theta instanceof Float64Array)) throw new TypeError(`Expected a Float64Array for \`theta\` but received ${Object.prototype.toString.call(theta)}`);
  const rows = theta.length / net.thetaDim;
  if (!Number.isSafeInteger(rows) || rows < 1) throw new RangeError(`Expected \`theta\` to hold whole rows of ${net.thetaDim} values but received ${theta.length}`);
  checkFinite(theta, 'theta', theta.length, Float64Array);
  if (!(x instanceof Float64Array) || (x.length !== net.xDim && x.length !== rows * net.xDim)) {
    throw new RangeError(`Expected \`x\` to be a Float64Array of ${net.xDim} values (one observation) or ${rows * net.xDim} (one row per θ row) but received ${x?.length}`);
  }
  checkFinite(x, 'x', x.length, Float64Array);
  return rows;
}

/** Checks op nre.train's batches; returns their row counts. */
export function checkRatioBatches(s: RatioShape, loss: RatioLossSpec, batches: readonly RatioBatch[]): number[] {
  if (!Array.isArray(batches) || batches.length === 0) throw new RangeError('Expected a non-empty array of batches for `batches`');
  const A = ratioLogitsPerRow(loss);
  return batches.map((b, i) => {
    if (typeof b !== 'object' || b === null) throw new TypeError(`Expected { theta, x, pairTheta } for \`batches[${i}]\` but received ${String(b)}`);
    const nb = b.theta instanceof Float32Array ? b.theta.length / s.thetaDim : NaN;
    if (!Number.isSafeInteger(nb) || nb < ratioMinBatchRows(loss) || nb > 1 << 16) {
      throw new RangeError(`Expected \`batches[${i}].theta\` to be a Float32Array of ${ratioMinBatchRows(loss)} to 65536 rows of ${s.thetaDim} values`);
    }
    checkFinite(b.theta, `batches[${i}].theta`, nb * s.thetaDim, Float32Array);
    checkFinite(b.x, `batches[${i}].x`, nb * s.xDim, Float32Array);
    if (!(b.pairTheta instanceof Int32Array) || b.pairTheta.length !== nb * A) {
      throw new RangeError(`Expected \`batches[${i}].pairTheta\` to be an Int32Array of ${nb * A} batch rows (${A} per row)`);
    }
    for (let p = 0; p < b.pairTheta.length; p++) {
      const r = b.pairTheta[p]!;
      if (r < 0 || r >= nb) throw new RangeError(`Expected \`batches[${i}].pairTheta\` to hold rows in [0, ${nb}) but index ${p} is ${r}`);
    }
    return nb;
  });
}

export function ratioStepOptions(o: RatioStepOptions): { lr: number; clip: number } {
  const lr = o.learningRate ?? 5e-4, clip = o.clipMaxNorm ?? 5;
  if (!(lr > 0) || !Number.isFinite(lr)) throw new RangeError(`Expected a positive finite number for \`learningRate\` but received ${lr}`);
  if (!(clip > 0) || !Number.isFinite(clip)) throw new RangeError(`Expected a positive finite number for \`clipMaxNorm\` but received ${clip}`);
  return { lr, clip };
}

/**
 * The classifier's input rows [rows, D + C] in f32: (θ − mean) / std and (x − mean) / std in
 * double, rounded once (as RatioLogits in native/ratio_trainer.cc).
 */
export function ratioInputRows(net: RatioClassifier, theta: Float64Array, x: Float64Array, first: number, rows: number): Float32Array {
  const D = net.thetaDim, C = net.xDim, W = D + C;
  const broadcast = x.length === C;
  const out = new Float32Array(rows * W);
  for (let q = 0; q < rows; q++) {
    const r = first + q;
    for (let d = 0; d < D; d++) out[q * W + d] = (theta[r * D + d]! - net.thetaMean[d]!) / net.thetaStd[d]!;
    const xr = broadcast ? 0 : r;
    for (let j = 0; j < C; j++) out[q * W + D + j] = (x[xr * C + j]! - net.xMean[j]!) / net.xStd[j]!;
  }
  return out;
}

/** nre.log_ratio on the CPU: the addon's nreLogRatio (RatioLogits). */
export function cpuNreLogRatio(net: RatioClassifier, theta: Float64Array, x: Float64Array): Float64Array {
  checkRatioClassifier(net);
  const rows = checkRatioPairs(net, theta, x);
  const out = new Float64Array(rows);
  const e = net.embeddingSizes ? { sizes: Int32Array.from(net.embeddingSizes), params: net.embeddingParams! } : undefined;
  native.nreLogRatio(Int32Array.of(net.thetaDim, net.xDim, net.hidden, net.blocks), net.params, net.thetaMean, net.thetaStd, net.xMean, net.xStd, theta, x, out,
    undefined, e?.sizes, e?.params);
  return out;
}

/** ratio_gather_pairs of a batch: input row p = [θ[pairTheta[p]], x[⌊p / A⌋]]. */
export function gatherRatioBatch(s: RatioShape, A: number, b: RatioBatch): Float32Array {
  const D = s.thetaDim, C = s.xDim, W = D + C, m = b.pairTheta.length;
  const input = new Float32Array(m * W);
  for (let p = 0; p < m; p++) {
    input.set(b.theta.subarray(b.pairTheta[p]! * D, (b.pairTheta[p]! + 1) * D), p * W);
    const r = Math.floor(p / A);
    input.set(b.x.subarray(r * C, (r + 1) * C), p * W + D);
  }
  return input;
}

/**
 * nre.train on the CPU: per batch, the float resnet_forward, ratio_loss and resnet_backward of the
 * addon (nreNetForward, nreLoss), clip_grad_norm and adam_step, as native/trainer.h takes a step.
 * From `params` (not modified): the final parameters and each step's batch-mean loss.
 */
export function cpuNreTrainSteps(
  s: RatioShape, params: Float32Array, loss: RatioLossSpec, batches: readonly RatioBatch[], options: RatioStepOptions = {},
): { params: Float32Array; losses: Float64Array } {
  checkRatioShape(s);
  if (s.embeddingSizes) throw new TypeError('Expected no `embeddingSizes` for op nre.train (op nre.embedding_train trains an embedding network)');
  checkRatioLoss(loss);
  const { paramCount, inDim } = ratioNetSize(s);
  checkFinite(params, 'params', paramCount, Float32Array);
  const { lr, clip } = ratioStepOptions(options);
  const rows = checkRatioBatches(s, loss, batches);
  const A = ratioLogitsPerRow(loss);
  const arch = Int32Array.of(inDim, s.hidden, s.blocks);
  const p = params.slice();
  const grads = new Float32Array(paramCount), m = new Float32Array(paramCount), v = new Float32Array(paramCount);
  const losses = Float64Array.from(batches, (b, i) => {
    const pairs = rows[i]! * A;
    const input = gatherRatioBatch(s, A, b);
    const logits = new Float32Array(pairs), dlogits = new Float32Array(pairs);
    native.nreNetForward(arch, pairs, p, input, logits);
    const value = native.nreLoss(loss.variant, rows[i]!, loss.classes, loss.gamma, loss.lambda, logits, dlogits);
    native.nreNetForward(arch, pairs, p, input, logits, dlogits, grads);
    native.nnClipGradNorm(grads, clip);
    native.nnAdamStep(p, grads, m, v, i + 1, { lr });
    return value;
  });
  return { params: p, losses };
}

/**
 * nre.embedding_train on the CPU: per batch, kernels/nn/ratio_embedding.h's
 * ratio_embedded_loss_backward in float (the addon's nreEmbeddedLossBackward: embed the batch's x
 * rows, gather the pairs, the classifier, the loss, both backwards), then one clip_grad_norm and
 * one adam_step over the classifier's and the embedding's parameters as one vector, as
 * native/ratio_trainer.cc steps them. From `params` / `embeddingParams` (not modified).
 */
export function cpuNreEmbeddingTrainSteps(
  s: RatioShape, params: Float32Array, embeddingParams: Float32Array, loss: RatioLossSpec, batches: readonly RatioBatch[], options: RatioStepOptions = {},
): { params: Float32Array; embeddingParams: Float32Array; losses: Float64Array } {
  const { P, Q } = checkRatioEmbeddingStep(s, params, embeddingParams, loss);
  const { lr, clip } = ratioStepOptions(options);
  checkRatioBatches(s, loss, batches);
  const all = new Float32Array(P + Q);
  all.set(params);
  all.set(embeddingParams, P);
  const grads = new Float32Array(P + Q), m = new Float32Array(P + Q), v = new Float32Array(P + Q);
  const arch = Int32Array.of(s.thetaDim, s.hidden, s.blocks), sizes = Int32Array.from(s.embeddingSizes!);
  const losses = Float64Array.from(batches, (b, i) => {
    const value = native.nreEmbeddedLossBackward(loss, arch, sizes, all.subarray(0, P), all.subarray(P), b.theta, b.x, b.pairTheta,
      grads.subarray(0, P), grads.subarray(P));
    native.nnClipGradNorm(grads, clip);
    native.nnAdamStep(all, grads, m, v, i + 1, { lr });
    return value;
  });
  return { params: all.slice(0, P), embeddingParams: all.slice(P), losses };
}

/** Checks nre.embedding_train's shape (with embeddingSizes), loss and parameters; returns the two parameter counts. */
export function checkRatioEmbeddingStep(s: RatioShape, params: Float32Array, embeddingParams: Float32Array, loss: RatioLossSpec): { P: number; Q: number } {
  checkRatioShape(s);
  if (!s.embeddingSizes) throw new TypeError('Expected `embeddingSizes` in the classifier shape (op nre.embedding_train trains an embedding network)');
  checkRatioLoss(loss);
  const { paramCount: P, embeddingParamCount: Q } = ratioNetSize(s);
  checkFinite(params, 'params', P, Float32Array);
  checkFinite(embeddingParams, 'embeddingParams', Q, Float32Array);
  return { P, Q };
}

/** DrawContrasts (native/ratio_trainer.cc): `count` distinct batch positions in [0, nb) other than `self`. */
export function drawContrasts(rng: PhiloxStream, nb: number, self: number, count: number, out: Int32Array, at: number): void {
  for (let k = 0; k < count;) {
    let j = Math.min(Math.floor(rng.uniform() * (nb - 1)), nb - 2); // sample_index(rng, nb − 1)
    if (j >= self) j++;
    let seen = false;
    for (let q = 0; q < k && !seen; q++) seen = out[at + q] === j;
    if (!seen) out[at + k++] = j;
  }
}

/**
 * The pairs of one batch as BatchLoss draws them: for batch row r (data row rows[r]), its own θ
 * then the contrasts (NRE-C: K − 1, then K more drawn independently); pairs[2p] the θ data row and
 * pairs[2p + 1] the x data row of pair p, written from pair `at`.
 */
export function drawBatchPairs(rng: PhiloxStream, loss: RatioLossSpec, rows: Int32Array, pairs: Uint32Array | Int32Array, at: number): void {
  const A = ratioLogitsPerRow(loss), nb = rows.length;
  const first = loss.variant === 'c' ? loss.classes - 1 : A - 1;
  const second = loss.variant === 'c' ? loss.classes : 0;
  const partners = new Int32Array(first + second);
  for (let r = 0; r < nb; r++) {
    drawContrasts(rng, nb, r, first, partners, 0);
    drawContrasts(rng, nb, r, second, partners, first);
    const base = 2 * (at + r * A);
    pairs[base] = rows[r]!;
    for (let k = 0; k < first + second; k++) pairs[base + 2 * (1 + k)] = rows[partners[k]!]!;
    for (let a = 0; a < A; a++) pairs[base + 2 * a + 1] = rows[r]!;
  }
}

/**
 * InitialParams (native/ratio_trainer.cc), stream 4 of the training seed: torch's U(±1/√fan_in)
 * for weights and biases, nflows' U(±1e-3) for every block's second layer.
 */
export function initialRatioParams(s: RatioShape, seed: number | bigint): Float32Array {
  const { inDim, paramCount } = ratioNetSize(s);
  const H = s.hidden;
  const rng = new PhiloxStream(seed, 4);
  const params = new Float32Array(paramCount);
  let p = 0;
  const fill = (count: number, bound: number) => {
    for (let i = 0; i < count; i++) params[p++] = bound * (2.0 * rng.uniform() - 1.0);
  };
  const inBound = 1 / Math.sqrt(inDim), hBound = 1 / Math.sqrt(H);
  fill(H * (inDim + 1), inBound);
  for (let b = 0; b < s.blocks; b++) {
    fill(H * (H + 1), hBound);
    fill(H * (H + 1), 1e-3);
  }
  fill(H + 1, hBound);
  return params;
}
