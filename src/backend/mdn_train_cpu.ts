/**
 * The CPU side of op flow.mdn_train: native/mdn.cc's float network gradient (mdnNetLogProb:
 * mdn_row_backward and the conditioner's backward), scaled to the batch-mean −log q, then
 * adam.h's clip_grad_norm and adam_step through the addon, one step per batch as
 * native/trainer.h takes them (the reference the WebGPU steps of mdn_train_webgpu.ts are compared with).
 */
import type { MDN } from '../flows/mdn.js';
import { native } from '../native.js';
import { stepOptions, type MafStepOptions } from './flow_train_webgpu.js';
import { checkMdnBatches, type MdnBatch } from './mdn_train_webgpu.js';

/** One step per batch from mdn.params (not modified): the final parameters and each step's batch-mean −log q. */
export function cpuMdnTrainSteps(mdn: MDN, batches: readonly MdnBatch[], options: MafStepOptions = {}): { params: Float32Array; losses: Float64Array } {
  const { lr, clip } = stepOptions(options);
  const rowsOf = checkMdnBatches(mdn, batches);
  const params = Float32Array.from(mdn.params);
  const grads = new Float32Array(params.length), m = new Float32Array(params.length), v = new Float32Array(params.length);
  const losses = Float64Array.from(batches, (b, i) => {
    const n = rowsOf[i]!;
    const logQ = new Float32Array(n);
    native.mdnNetLogProb(mdn.arch, params, b.context, b.y, logQ, grads);
    const g = -1 / n;
    for (let j = 0; j < grads.length; j++) grads[j] = grads[j]! * g;
    native.nnClipGradNorm(grads, clip);
    native.nnAdamStep(params, grads, m, v, i + 1, { lr });
    let loss = 0;
    for (let r = 0; r < n; r++) loss -= logQ[r]!;
    return loss / n;
  });
  return { params, losses };
}
