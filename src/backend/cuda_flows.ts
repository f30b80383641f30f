/**
 * The density estimators' ops on the CUDA addon (docs/backends.md, "CUDA addon"): flow.maf_log_prob
 * and flow.maf_sample (MAF and NSF: kernels/flows/maf.cu), flow.mdn_log_prob and flow.mdn_sample
 * (kernels/flows/mdn.cu), nre.log_ratio (kernels/nn/resnet.cu), and the MDN's training steps
 * flow.mdn_train (kernels/flows/mdn.cu, the steps of mdn_train_cpu.ts) and the ratio classifier's
 * training steps nre.train (kernels/nn/resnet.cu, the steps of ratio_ops.ts's cpuNreTrainSteps). Each is the CPU op's native call
 * with the same arguments (native/maf.cc, native/mdn.cc, native/nre.cc: float32 networks and
 * rows), run by one device thread per row through the CPU's own kernel functions; row i's draws
 * come from Philox stream i of the seed. The addon checks the arguments (with the CPU's messages)
 * before it looks for a device, so without one every call is SbiError NO_CUDA_DEVICE.
 */
import type { MAF } from '../flows/maf.js';
import type { MDN } from '../flows/mdn.js';
import { SbiError } from '../errors.js';
import { checkPositiveInteger, checkSeed } from '../validate.js';
import { cudaAddonExports } from './cuda.js';
import { stepOptions, type MafStepOptions } from './flow_train_webgpu.js';
import { checkMdnBatches, type MdnBatch } from './mdn_train_webgpu.js';
import {
  checkRatioBatches, checkRatioClassifier, checkRatioLoss, checkRatioPairs, checkRatioShape, gatherRatioBatch, ratioLogitsPerRow,
  ratioNetSize, ratioStepOptions, type RatioBatch, type RatioClassifier, type RatioLossSpec, type RatioShape, type RatioStepOptions,
} from './ratio_ops.js';

/** The addon's entry points of these ops (native/cuda/flow_ops.cc). */
interface CudaFlowAddon {
  mafLogProb(arch: Int32Array, transform: 'affine' | 'rqSpline', hyper: Float64Array, params: Float32Array,
    theta: Float32Array, x: Float32Array | null, logProb: Float32Array): void;
  mafSample(arch: Int32Array, transform: 'affine' | 'rqSpline', hyper: Float64Array, params: Float32Array,
    x: Float32Array | null, n: number, seed: number | bigint, theta: Float32Array, logProb: Float32Array): void;
  mdnLogProb(arch: Int32Array, params: Float32Array, y: Float32Array, context: Float32Array, logProb: Float32Array): void;
  mdnSample(arch: Int32Array, params: Float32Array, context: Float32Array, n: number, seed: number | bigint, y: Float32Array): void;
  mdnTrainSteps(arch: Int32Array, params: Float32Array, rows: Int32Array, y: Float32Array, context: Float32Array,
    options: { learningRate: number; clipMaxNorm: number }, losses: Float64Array): void;
  nreLogRatio(arch: Int32Array, params: Float32Array, thetaMean: Float64Array, thetaStd: Float64Array, xMean: Float64Array,
    xStd: Float64Array, theta: Float64Array, x: Float64Array, out: Float64Array, embeddingSizes?: Int32Array,
    embeddingParams?: Float32Array): void;
  nreTrainSteps(arch: Int32Array, loss: RatioLossSpec, params: Float32Array, rows: Int32Array, input: Float32Array,
    options: { learningRate: number; clipMaxNorm: number }, losses: Float64Array): void;
}

const addon = (): CudaFlowAddon => cudaAddonExports<CudaFlowAddon>();

/** NRE training runs the classifier on [z(θ), z(x)] only: one with an embedding network of x is UNSUPPORTED_OP. */
function refuseEmbedding(s: RatioShape, op: string): void {
  if (s?.embeddingSizes !== undefined) {
    throw new SbiError(`${op} with an embedding network is not supported on the cuda backend: no CUDA launcher for the embedding networks yet`, 'UNSUPPORTED_OP');
  }
}

/** Rows of a float32 array of whole rows of `dim` values; a TypeError / RangeError naming it otherwise. */
function rowsOf(a: unknown, dim: number, name: string): number {
  if (!(a instanceof Float32Array)) throw new TypeError(`Expected a Float32Array for \`${name}\` but received ${Object.prototype.toString.call(a)}`);
  const n = a.length / dim;
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`Expected \`${name}\` to hold a positive multiple of ${dim} values ([N, ${dim}]) but received ${a.length}`);
  return n;
}

/** The flow's parameters in float32 (the op's precision; the WebGPU kernels take the same). */
const mafParams = (maf: MAF): Float32Array => (maf.params instanceof Float32Array ? maf.params : Float32Array.from(maf.params));

/** log q(θ | x) [n] of θ [n, dim] (op flow.maf_log_prob); x: one context [C] for all rows, [n, C], or null when C = 0. */
export function cudaMafLogProb(maf: MAF, theta: Float32Array, x: Float32Array | null): Float32Array {
  const n = rowsOf(theta, maf.dim, 'theta');
  const logProb = new Float32Array(n);
  addon().mafLogProb(maf.arch, maf.transform.kind, maf.hyper, mafParams(maf), theta, x, logProb);
  return logProb;
}

/** n draws θ ~ q(θ | x) [n, dim] and their log q (op flow.maf_sample): row i's base normals from Philox stream i of `seed`. */
export function cudaMafSample(maf: MAF, x: Float32Array | null, n: number, seed: number | bigint): { theta: Float32Array; logProb: Float32Array } {
  checkPositiveInteger(n, 'n', 2 ** 31);
  const key = checkSeed(seed, 'seed');
  const theta = new Float32Array(n * maf.dim), logProb = new Float32Array(n);
  addon().mafSample(maf.arch, maf.transform.kind, maf.hyper, mafParams(maf), x, n, key, theta, logProb);
  return { theta, logProb };
}

/** log q(y | c) [n] of z-scored y [n, dim] given the context [C] (every row) or [n, C] (op flow.mdn_log_prob). */
export function cudaMdnLogProb(mdn: MDN, y: Float32Array, context: Float32Array): Float32Array {
  const n = rowsOf(y, mdn.dim, 'y');
  const logProb = new Float32Array(n);
  addon().mdnLogProb(mdn.arch, mdn.params, y, context, logProb);
  return logProb;
}

/** n draws y ~ q(y | c) [n, dim] (op flow.mdn_sample): row i from Philox stream i of `seed`. */
export function cudaMdnSample(mdn: MDN, context: Float32Array, n: number, seed: number | bigint): Float32Array {
  checkPositiveInteger(n, 'n', 2 ** 31);
  const key = checkSeed(seed, 'seed');
  const y = new Float32Array(n * mdn.dim);
  addon().mdnSample(mdn.arch, mdn.params, context, n, key, y);
  return y;
}

/**
 * One training step per batch of z-scored rows from mdn.params (not modified): the batch-mean
 * −log q, its gradient, clipping at clipMaxNorm and an Adam step (op flow.mdn_train), as
 * cpuMdnTrainSteps. The parameters and Adam's moments stay on the device between steps.
 */
export function cudaMdnTrainSteps(mdn: MDN, batches: readonly MdnBatch[], options: MafStepOptions = {}): { params: Float32Array; losses: Float64Array } {
  const { lr, clip } = stepOptions(options);
  const rowsOf = checkMdnBatches(mdn, batches);
  const total = rowsOf.reduce((s, n) => s + n, 0);
  const y = new Float32Array(total * mdn.dim), context = new Float32Array(total * mdn.contextDim);
  let r = 0;
  batches.forEach((b, i) => {
    y.set(b.y, r * mdn.dim);
    context.set(b.context, r * mdn.contextDim);
    r += rowsOf[i]!;
  });
  const params = Float32Array.from(mdn.params);
  const losses = new Float64Array(batches.length);
  addon().mdnTrainSteps(mdn.arch, params, Int32Array.from(rowsOf), y, context, { learningRate: lr, clipMaxNorm: clip }, losses);
  return { params, losses };
}

/**
 * log r(θ_i, x_i) [n] of the ratio classifier (op nre.log_ratio), with its embedding network of x
 * when it has one; x: one row per θ row, or one observation [xDim] for all.
 */
export function cudaNreLogRatio(net: RatioClassifier, theta: Float64Array, x: Float64Array): Float64Array {
  checkRatioClassifier(net);
  const rows = checkRatioPairs(net, theta, x);
  const out = new Float64Array(rows);
  const sizes = net.embeddingSizes ? Int32Array.from(net.embeddingSizes) : undefined;
  addon().nreLogRatio(Int32Array.of(net.thetaDim, net.xDim, net.hidden, net.blocks), net.params, net.thetaMean, net.thetaStd,
    net.xMean, net.xStd, theta, x, out, sizes, sizes ? net.embeddingParams : undefined);
  return out;
}

/**
 * One training step per batch from `params` (not modified): the pairs gathered as the CPU gathers
 * them (gatherRatioBatch), forward, the NRE loss, backward, clipping and an Adam step (op
 * nre.train), as cpuNreTrainSteps. The parameters and Adam's moments stay on the device between steps.
 */
export function cudaNreTrainSteps(
  s: RatioShape, params: Float32Array, loss: RatioLossSpec, batches: readonly RatioBatch[], options: RatioStepOptions = {},
): { params: Float32Array; losses: Float64Array } {
  refuseEmbedding(s, 'nre.train');
  checkRatioShape(s);
  checkRatioLoss(loss);
  const { paramCount, inDim } = ratioNetSize(s);
  if (!(params instanceof Float32Array) || params.length !== paramCount) {
    throw new TypeError(`Expected a Float32Array of ${paramCount} values for \`params\` but received ${Object.prototype.toString.call(params)} of ${(params as { length?: number })?.length} values`);
  }
  const { lr, clip } = ratioStepOptions(options);
  const rows = checkRatioBatches(s, loss, batches);
  const A = ratioLogitsPerRow(loss);
  const inputs = batches.map((b) => gatherRatioBatch(s, A, b));
  const input = new Float32Array(inputs.reduce((k, a) => k + a.length, 0));
  let at = 0;
  for (const a of inputs) {
    input.set(a, at);
    at += a.length;
  }
  const out = params.slice();
  const losses = new Float64Array(batches.length);
  addon().nreTrainSteps(Int32Array.of(inDim, s.hidden, s.blocks), loss, out, Int32Array.from(rows), input, { learningRate: lr, clipMaxNorm: clip }, losses);
  return { params: out, losses };
}
