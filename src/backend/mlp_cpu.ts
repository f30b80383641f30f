/**
 * The CPU side of the MLP ops (nn.mlp_forward, nn.mlp_gradients, nn.mlp_train): the float
 * instantiation of kernels/nn/mlp.h, loss.h and adam.h through the addon, composed exactly as
 * the WebGPU path composes its WGSL kernels (src/backend/nn_webgpu.ts), so the two can be
 * compared op for op.
 */
import { native } from '../native.js';
import { mlpParamCount } from '../inference/embedding.js';
import type { MlpBatch, MlpLoss, MlpSpec } from './nn_webgpu.js';
import type { NnAdamOptions } from '../native.js';

/** Floats of the forward's saved buffer (layer outputs, and silu's hidden pre-activations). */
function savedSize(spec: MlpSpec, n: number): number {
  const { sizes } = spec;
  let s = 0;
  for (let l = 1; l < sizes.length; l++) s += n * sizes[l]!;
  if (spec.activation === 'silu') for (let l = 1; l + 1 < sizes.length; l++) s += n * sizes[l]!;
  return s;
}

function checkParams(spec: MlpSpec, params: Float32Array): void {
  const p = mlpParamCount(spec.sizes);
  if (!(params instanceof Float32Array) || params.length !== p) {
    throw new RangeError(`Expected a Float32Array of ${p} parameters for sizes ${JSON.stringify(spec.sizes)} but received ${params?.length}`);
  }
}

/** Output [n, sizes[L]] and the saved activations the backward needs. */
function forward(spec: MlpSpec, params: Float32Array, x: Float32Array, n: number): { out: Float32Array; saved: Float32Array } {
  checkParams(spec, params);
  const out = new Float32Array(n * spec.sizes[spec.sizes.length - 1]!);
  const saved = new Float32Array(savedSize(spec, n));
  native.nnMlpForward(spec.activation, Int32Array.from(spec.sizes), n, x, params, saved, out);
  return { out, saved };
}

export function cpuMlpForward(spec: MlpSpec, params: Float32Array, x: Float32Array, n: number): Float32Array {
  return forward(spec, params, x, n).out;
}

export function cpuMlpGradients(spec: MlpSpec, params: Float32Array, x: Float32Array, dout: Float32Array, n: number): Float32Array {
  const { saved } = forward(spec, params, x, n);
  const grads = new Float32Array(params.length);
  native.nnMlpBackward(spec.activation, Int32Array.from(spec.sizes), n, x, params, saved, dout, grads);
  return grads;
}

/** One Adam step per batch from `params` (not modified); the final parameters and each step's loss. */
export function cpuMlpTrain(
  spec: MlpSpec, params: Float32Array, batches: readonly MlpBatch[], options: { loss: MlpLoss; adam: NnAdamOptions },
): { params: Float32Array; losses: Float64Array } {
  checkParams(spec, params);
  const theta = params.slice();
  const m = new Float32Array(theta.length), v = new Float32Array(theta.length), grads = new Float32Array(theta.length);
  const inDim = spec.sizes[0]!, outDim = spec.sizes[spec.sizes.length - 1]!;
  const losses = new Float64Array(batches.length);
  batches.forEach((b, i) => {
    const n = b.x.length / inDim;
    const { out, saved } = forward(spec, theta, b.x, n);
    const dout = new Float32Array(n * outDim);
    losses[i] = native.nnLoss(options.loss, n, outDim, out, b.target, dout);
    native.nnMlpBackward(spec.activation, Int32Array.from(spec.sizes), n, b.x, theta, saved, dout, grads);
    native.nnAdamStep(theta, grads, m, v, i + 1, options.adam);
  });
  return { params: theta, losses };
}
