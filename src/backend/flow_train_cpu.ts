/**
 * The CPU side of op flow.maf_train: the float instantiation of kernels/flows/maf.h's
 * maf_nll_backward, adam.h's clip_grad_norm and adam_step through the addon, one step per batch
 * as native/trainer.h takes them (the reference the WebGPU steps of flow_train_webgpu.ts are
 * compared with).
 */
import type { MAF } from '../flows/maf.js';
import { native } from '../native.js';
import { checkMafBatches, stepOptions, type MafBatch, type MafStepOptions } from './flow_train_webgpu.js';

/** One step per batch from maf.params (not modified): the final parameters and each step's batch-mean −log q. */
export function cpuMafTrainSteps(maf: MAF, batches: readonly MafBatch[], options: MafStepOptions = {}): { params: Float32Array; losses: Float64Array } {
  const { lr, clip } = stepOptions(options);
  checkMafBatches(maf, batches);
  const params = Float32Array.from(maf.params);
  const grads = new Float32Array(params.length), m = new Float32Array(params.length), v = new Float32Array(params.length);
  const losses = Float64Array.from(batches, (b, i) => {
    const loss = native.mafLogProbBackward(maf.arch, maf.transform.kind, maf.hyper, params, b.theta, maf.contextDim > 0 ? b.x : null, grads);
    native.nnClipGradNorm(grads, clip);
    native.nnAdamStep(params, grads, m, v, i + 1, { lr });
    return loss;
  });
  return { params, losses };
}
