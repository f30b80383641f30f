/**
 * The CPU side of op manifold.flow_train: the native trainer's steps (native/manifold_flow.cc
 * TrainJob::Run, double precision) one at a time through the addon — step t's reverse-KL loss and
 * gradient on Philox stream t (manifoldFlowLoss), clip_grad_norm when `clipMaxNorm` is given, Adam
 * step t + 1 — the reference the WebGPU steps of manifold_train_webgpu.ts are compared with.
 */
import type { ManifoldFlow } from '../manifold/flow.js';
import { native } from '../native.js';
import { checkManifoldTrainOptions, type ManifoldTrainStepOptions } from './manifold_train_webgpu.js';

/** `steps` steps from flow.params (not modified): the final parameters and each step's loss. */
export function cpuManifoldFlowTrainSteps(flow: ManifoldFlow, options: ManifoldTrainStepOptions): { params: Float64Array; losses: Float64Array } {
  const o = checkManifoldTrainOptions(flow, options);
  const params = flow.params.slice();
  const m = new Float64Array(params.length), v = new Float64Array(params.length);
  const losses = new Float64Array(o.steps);
  for (let t = 0; t < o.steps; t++) {
    const { loss, grad } = flow.lossAndGradient({ target: o.target, batchSize: o.batch, seed: o.seed, step: t }, params);
    if (Number.isFinite(o.clip)) native.nnClipGradNorm(grad, o.clip);
    native.nnAdamStep(params, grad, m, v, t + 1, { lr: o.lr });
    losses[t] = loss;
  }
  return { params, losses };
}
