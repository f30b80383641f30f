/**
 * The uniform density on the torus Tᴰ (angles in [0, 2π)ᴰ, rows of x [N, D]). The trainable flows
 * on the torus and the sphere are `ManifoldFlow` (src/manifold/flow.ts).
 */
import { PhiloxStream } from '../random/philox.js';
import { checkPositiveInteger, describe } from '../validate.js';

const TWO_PI = 2 * Math.PI;
const LOG_TWO_PI = Math.log(TWO_PI);

/** The uniform density on Tᴰ: log p = −D log 2π; samples from Philox stream `streamOffset + i` for row i. */
export class TorusUniform {
  constructor(readonly dim: number) {
    checkPositiveInteger(dim, 'dim', 1 << 20);
  }
  logProb(x: Float64Array): Float64Array {
    checkAngles(x, this.dim);
    return new Float64Array(x.length / this.dim).fill(-this.dim * LOG_TWO_PI);
  }
  sample(n: number, seed: number | bigint, streamOffset = 0): Float64Array {
    checkPositiveInteger(n, 'n');
    const out = new Float64Array(n * this.dim);
    for (let i = 0; i < n; i++) {
      const rng = new PhiloxStream(seed, BigInt(streamOffset) + BigInt(i));
      for (let d = 0; d < this.dim; d++) out[i * this.dim + d] = TWO_PI * rng.uniform();
    }
    return out;
  }
}

function checkAngles(x: unknown, dim: number): number {
  if (!(x instanceof Float64Array)) throw new TypeError(`Expected a Float64Array for \`x\` ([N, ${dim}]) but received ${describe(x)}`);
  if (x.length % dim !== 0) throw new RangeError(`Expected \`x\` to hold a multiple of ${dim} values ([N, ${dim}]) but received ${x.length}`);
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i])) throw new RangeError(`Expected finite angles in \`x\` but \`x[${i}]\` is ${x[i]}`);
  }
  return x.length / dim;
}
