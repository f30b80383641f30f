/**
 * Embedding network e_φ(x) for high-dimensional x: an MLP (kernels/nn/mlp.h) with ReLU after
 * every hidden layer and an identity output, trained jointly on z-scored x with what it feeds:
 * NPE's flow, as its context (native/flow_trainer.h, kernels/flows/maf_embedding.h; docs/npe.md,
 * "Embedding networks"), or the ratio classifier of NRE, beside z(θ) (native/ratio_trainer.h,
 * kernels/nn/ratio_embedding.h; docs/nre.md).
 */
import { native } from '../native.js';
import { PhiloxStream } from '../random/philox.js';
import { checkPositiveInteger, describe } from '../validate.js';

/** `new NPE({ prior, embedding: { hidden: [100, 100], outputDim: 20 } })`. */
export interface EmbeddingOptions {
  /** Hidden layer widths (default [100, 100]; [] for a single linear layer). */
  hidden?: number[];
  /** Width of the embedding: the flow's context dimension. */
  outputDim: number;
}

export interface EmbeddingConfig {
  hidden: number[];
  outputDim: number;
}

/** Checks the `embedding` option (undefined: none). */
export function readEmbeddingOptions(e: unknown): EmbeddingConfig | undefined {
  if (e === undefined) return undefined;
  if (typeof e !== 'object' || e === null) {
    throw new TypeError(`Expected an object { hidden?, outputDim } for \`embedding\` but received ${describe(e)}`);
  }
  const o = e as EmbeddingOptions;
  const hidden = o.hidden ?? [100, 100];
  if (!Array.isArray(hidden) || hidden.length > 63) {
    throw new TypeError(`Expected an array of at most 63 widths for \`embedding.hidden\` but received ${describe(hidden)}`);
  }
  return {
    hidden: hidden.map((h, i) => checkPositiveInteger(h, `embedding.hidden[${i}]`, 1 << 16)),
    outputDim: checkPositiveInteger(o.outputDim, 'embedding.outputDim', 1 << 16),
  };
}

/** Parameters of an MLP with widths `sizes` (kernels/nn/mlp.h: W_l and b_l per layer). */
export function mlpParamCount(sizes: ArrayLike<number>): number {
  let p = 0;
  for (let l = 0; l + 1 < sizes.length; l++) p += sizes[l + 1]! * (sizes[l]! + 1);
  return p;
}

/** A ReLU MLP with widths `sizes` [xDim, ...hidden, outputDim] and float32 parameters. */
export class EmbeddingNet {
  readonly paramCount: number;

  constructor(readonly sizes: Int32Array, public params: Float32Array) {
    const p = mlpParamCount(sizes);
    this.paramCount = p;
    if (params.length !== p) throw new RangeError(`Expected ${p} embedding parameters for widths [${sizes}] but received ${params.length}`);
  }

  get inputDim(): number {
    return this.sizes[0]!;
  }

  get outputDim(): number {
    return this.sizes[this.sizes.length - 1]!;
  }

  /**
   * A fresh network: weights and biases of layer l uniform on ±1/√fan_in (PyTorch's nn.Linear
   * default), drawn from Philox stream l of `seed`.
   */
  static init(sizes: number[], seed: bigint): EmbeddingNet {
    const s = Int32Array.from(sizes);
    const params = new Float32Array(mlpParamCount(s));
    let off = 0;
    for (let l = 0; l + 1 < s.length; l++) {
      const rng = new PhiloxStream(seed, l);
      const bound = 1 / Math.sqrt(s[l]!);
      const count = s[l + 1]! * (s[l]! + 1);
      for (let i = 0; i < count; i++) params[off + i] = (2 * rng.uniform() - 1) * bound;
      off += count;
    }
    return new EmbeddingNet(s, params);
  }

  /** e_φ(x) [n, outputDim] of z-scored rows x [n, inputDim], in one native call. */
  apply(x: Float32Array, n: number): Float32Array {
    let saved = 0;
    for (let l = 1; l < this.sizes.length; l++) saved += n * this.sizes[l]!;
    const out = new Float32Array(n * this.outputDim);
    native.nnMlpForward('relu', this.sizes, n, x, this.params, new Float32Array(saved), out);
    return out;
  }
}
