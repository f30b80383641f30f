/**
 * The CPU side of op flow.maf_train: the float instantiation of kernels/flows/maf.h's
 * maf_nll_backward, adam.h's clip_grad_norm and adam_step through the addon, one step per batch
 * as native/trainer.h takes them (the reference the WebGPU steps of flow_train_webgpu.ts are
 * compared with).
 */
import type { MAF } from '../flows/maf.js';
import { native } from '../native.js';
import { checkMafBatches, embeddingSpec, stepOptions, type MafBatch, type MafEmbedding, type MafStepOptions } from './flow_train_webgpu.js';

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

/**
 * The CPU side of op flow.maf_embedding_train: kernels/flows/maf_embedding.h's
 * maf_embedded_nll_backward (float), then one clip and one Adam step over the flow's and the
 * embedding's parameters as one vector, as native/flow_trainer.cc steps them.
 */
export function cpuMafEmbeddingTrainSteps(
  maf: MAF, embedding: MafEmbedding, batches: readonly MafBatch[], options: MafStepOptions = {},
): { params: Float32Array; embeddingParams: Float32Array; losses: Float64Array } {
  const { lr, clip } = stepOptions(options);
  const spec = embeddingSpec(maf, embedding);
  checkMafBatches(maf, batches, spec.sizes[0]);
  const P = maf.paramCount, Q = embedding.params.length;
  const all = new Float32Array(P + Q);
  all.set(maf.params);
  all.set(embedding.params, P);
  const grads = new Float32Array(P + Q), m = new Float32Array(P + Q), v = new Float32Array(P + Q);
  const sizes = Int32Array.from(spec.sizes);
  const losses = Float64Array.from(batches, (b, i) => {
    const loss = native.mafEmbeddedLogProbBackward(maf.arch, maf.transform.kind, maf.hyper, all.subarray(0, P), sizes, all.subarray(P),
      b.theta, b.x, grads.subarray(0, P), grads.subarray(P));
    native.nnClipGradNorm(grads, clip);
    native.nnAdamStep(all, grads, m, v, i + 1, { lr });
    return loss;
  });
  return { params: all.slice(0, P), embeddingParams: all.slice(P), losses };
}
