/**
 * 2-D convolution with circular padding over a batch of lattice fields (kernels/nn/conv2d_circular.h):
 * x [n, cIn, L0, L1], weight [cOut, cIn, K, K] (K odd), bias [cOut] → y [n, cOut, L0, L1], with
 * y[o, i, j] = b[o] + Σ_c Σ_{a,d} w[o, c, a + K/2, d + K/2] · x[c, (i + a) mod L0, (j + d) mod L1].
 * Circular padding makes the layer commute with lattice translations (arXiv:2101.08176).
 */
import { native } from '../native.js';
import { checkPositiveInteger, describe } from '../validate.js';

export interface Conv2dShape {
  n: number;
  cIn: number;
  cOut: number;
  L0: number;
  L1: number;
  /** Odd kernel extent (3 in the lattice flows). */
  K: number;
}

type FloatArray = Float64Array | Float32Array;

function nativeShape(s: Conv2dShape): Int32Array {
  const keys = ['n', 'cIn', 'cOut', 'L0', 'L1', 'K'] as const;
  for (const k of keys) checkPositiveInteger(s[k], k, k === 'K' ? 15 : k === 'n' ? 2 ** 24 : 4096);
  if (s.K % 2 === 0) throw new RangeError(`Expected an odd kernel extent \`K\` but received ${describe(s.K)}`);
  return Int32Array.from(keys, (k) => s[k]);
}

function make<A extends FloatArray>(like: A, n: number): A {
  return new (like.constructor as { new (n: number): A })(n);
}

/** y = conv(x) + bias, [n, cOut, L0, L1]. */
export function conv2dCircular<A extends FloatArray>(shape: Conv2dShape, weight: A, bias: A, x: A): A {
  const y = make(x, shape.n * shape.cOut * shape.L0 * shape.L1);
  native.conv2dCircular(nativeShape(shape), weight, bias, x, y);
  return y;
}

/** ∂ℓ/∂x [n, cIn, L0, L1], ∂ℓ/∂weight and ∂ℓ/∂bias (summed over the batch) from gy = ∂ℓ/∂y. */
export function conv2dCircularBackward<A extends FloatArray>(
  shape: Conv2dShape, weight: A, x: A, gy: A,
): { gx: A; gweight: A; gbias: A } {
  const gx = make(x, x.length);
  const gweight = make(weight, weight.length);
  const gbias = make(weight, shape.cOut);
  native.conv2dCircularBackward(nativeShape(shape), weight, x, gy, gx, gweight, gbias);
  return { gx, gweight, gbias };
}
