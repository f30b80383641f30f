/**
 * A first flow on the torus Tᴰ (angles in [0, 2π)ᴰ, rows of x [N, D]): the uniform base density
 * and coupling layers of circular rational-quadratic splines (Rezende et al., "Normalizing flows
 * on tori and spheres", ICML 2020, arXiv:2002.02428, section 3). Layer l updates the angles i with
 * (i + l) even, conditioned on cos and sin of the others (frozen) through an MLP
 * (kernels/nn/mlp.h) whose output is the spline parameters [N, active, 3K + 1]
 * (src/manifold/transforms.ts), so the map stays a diffeomorphism of the torus.
 *
 *   log q(x) = −D log 2π + Σ_l log|det ∂z_{l−1}/∂z_l|   (inverse pass from x to the base point)
 *
 * Log-density and sampling only; training (reverse KL, maximum likelihood) is issue 5, item 3.
 */
import { native } from '../native.js';
import { PhiloxStream } from '../random/philox.js';
import { checkPositiveInteger, describe } from '../validate.js';
import { CircularRQSpline } from './transforms.js';

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

export interface TorusFlowOptions {
  /** Coupling layers (default 4). */
  layers?: number;
  /** Spline bins (default 8). */
  bins?: number;
  /** Hidden units per MLP layer (default 32) and hidden layers (default 2); tanh. */
  hidden?: number;
  hiddenLayers?: number;
}

interface Coupling {
  active: number[];
  frozen: number[];
  sizes: Int32Array;
  params: Float64Array;  // MLP parameters
  spline: CircularRQSpline;
}

/** Coupling flow of circular splines on Tᴰ, D ≥ 2, over the uniform base density. */
export class TorusCouplingFlow {
  readonly base: TorusUniform;
  private readonly couplings: Coupling[];

  /**
   * A fresh flow: MLP weights and biases of layer l uniform on ±1/√fan_in, from Philox stream
   * (coupling · 16 + layer) of `seed`.
   */
  constructor(readonly dim: number, seed: number | bigint, options: TorusFlowOptions = {}) {
    checkPositiveInteger(dim, 'dim', 1 << 16);
    if (dim < 2) throw new RangeError(`Expected \`dim\` >= 2 for a coupling flow but received ${dim}`);
    const layers = checkPositiveInteger(options.layers ?? 4, 'layers', 1024);
    const bins = checkPositiveInteger(options.bins ?? 8, 'bins', 1024);
    const hidden = checkPositiveInteger(options.hidden ?? 32, 'hidden', 1 << 16);
    const hiddenLayers = checkPositiveInteger(options.hiddenLayers ?? 2, 'hiddenLayers', 15);
    this.base = new TorusUniform(dim);
    this.couplings = [];
    for (let l = 0; l < layers; l++) {
      const active = Array.from({ length: dim }, (_, i) => i).filter((i) => (i + l) % 2 === 0);
      const frozen = Array.from({ length: dim }, (_, i) => i).filter((i) => (i + l) % 2 !== 0);
      const spline = new CircularRQSpline(active.length, { bins });
      const sizes = Int32Array.from([2 * frozen.length, ...Array<number>(hiddenLayers).fill(hidden), spline.paramsPerRow]);
      let count = 0;
      for (let k = 0; k + 1 < sizes.length; k++) count += sizes[k + 1]! * (sizes[k]! + 1);
      const params = new Float64Array(count);
      let off = 0;
      for (let k = 0; k + 1 < sizes.length; k++) {
        const rng = new PhiloxStream(seed, l * 16 + k);
        const bound = 1 / Math.sqrt(sizes[k]!);
        const m = sizes[k + 1]! * (sizes[k]! + 1);
        for (let i = 0; i < m; i++) params[off + i] = (2 * rng.uniform() - 1) * bound;
        off += m;
      }
      this.couplings.push({ active, frozen, sizes, params, spline });
    }
  }

  /** The spline parameters [N, active, 3K + 1] of coupling c from the frozen angles of x [N, D]. */
  private conditioner(c: Coupling, x: Float64Array, n: number): Float64Array {
    const input = new Float64Array(n * 2 * c.frozen.length);
    for (let i = 0; i < n; i++) {
      c.frozen.forEach((d, j) => {
        input[i * 2 * c.frozen.length + 2 * j] = Math.cos(x[i * this.dim + d]!);
        input[i * 2 * c.frozen.length + 2 * j + 1] = Math.sin(x[i * this.dim + d]!);
      });
    }
    let saved = 0;
    for (let k = 1; k < c.sizes.length; k++) saved += n * c.sizes[k]!;
    const out = new Float64Array(n * c.spline.paramsPerRow);
    native.nnMlpForward('tanh', c.sizes, n, input, c.params, new Float64Array(saved), out);
    return out;
  }

  /** Applies coupling c forward or inverse to x [N, D] in place; returns log|det| per row. */
  private apply(c: Coupling, x: Float64Array, n: number, inverse: boolean): Float64Array {
    const params = this.conditioner(c, x, n);
    const sub = new Float64Array(n * c.active.length);
    for (let i = 0; i < n; i++) c.active.forEach((d, j) => (sub[i * c.active.length + j] = x[i * this.dim + d]!));
    const r = inverse ? c.spline.inverseAndLadj(sub, params) : c.spline.callAndLadj(sub, params);
    const out = inverse ? (r as { x: Float64Array }).x : (r as { y: Float64Array }).y;
    for (let i = 0; i < n; i++) c.active.forEach((d, j) => (x[i * this.dim + d] = out[i * c.active.length + j]!));
    return r.ladj;
  }

  /** log q(x) per row [N] of angles x [N, D]. */
  logProb(x: Float64Array): Float64Array {
    const n = checkAngles(x, this.dim);
    const z = x.slice();
    const logq = new Float64Array(n).fill(-this.dim * LOG_TWO_PI);
    for (let l = this.couplings.length - 1; l >= 0; l--) {
      const ladj = this.apply(this.couplings[l]!, z, n, true);
      for (let i = 0; i < n; i++) logq[i]! += ladj[i]!;
    }
    return logq;
  }

  /** n samples x [n, D] and their log q [n]: base draws (Philox, row i on stream streamOffset + i) pushed forward. */
  sample(n: number, seed: number | bigint, streamOffset = 0): { x: Float64Array; logProb: Float64Array } {
    const x = this.base.sample(n, seed, streamOffset);
    const logq = new Float64Array(n).fill(-this.dim * LOG_TWO_PI);
    for (const c of this.couplings) {
      const ladj = this.apply(c, x, n, false);
      for (let i = 0; i < n; i++) logq[i]! -= ladj[i]!;
    }
    return { x, logProb: logq };
  }
}
