/**
 * Compact U(1) gauge theory on an L×L periodic lattice (issue 5; Kanwar et al., "Equivariant
 * flow-based sampling for lattice gauge theory", PRL 125, 2020, arXiv:2003.06413): link angles
 * θ [n, 2, L, L] (θ_μ(x₀, x₁) at μ·V + x₀·L + x₁, V = L²), plaquettes
 * P(x) = θ₀(x) + θ₁(x + ê₀) − θ₀(x + ê₁) − θ₁(x), Wilson action S = −β Σ_x cos P(x) and the
 * geometric topological charge Q = (1/2π) Σ_x wrap(P(x)), an integer on the torus.
 * Kernels: kernels/lattice/u1.h; the HMC baseline runs natively (kernels/lattice/hmc.h).
 */
import { native } from '../native.js';
import { checkFinite, checkPositiveInteger, describe } from '../validate.js';
import { runHmc, runHmcAsync, type HmcAsyncOptions, type HmcChains, type HmcOptions } from './hmc.js';
import type { BackendRequest } from '../backend/backend.js';

type FloatArray = Float64Array | Float32Array;

export interface U1Coupling {
  /** Lattice extent L (V = L² plaquettes, 2V links). */
  L: number;
  beta: number;
}

/** The Wilson action, its gradient and the topological charge, batched over configurations. */
export class U1Action {
  readonly L: number;
  readonly beta: number;

  constructor({ L, beta }: U1Coupling) {
    this.L = checkPositiveInteger(L, 'L', 4096);
    this.beta = checkFinite(beta, 'beta');
  }

  /** 2V link angles per configuration. */
  get links(): number {
    return 2 * this.L * this.L;
  }

  private count(theta: FloatArray): number {
    if (!(theta instanceof Float64Array || theta instanceof Float32Array)) {
      throw new TypeError(`Expected a Float64Array or Float32Array for \`theta\` but received ${describe(theta)}`);
    }
    if (theta.length % this.links !== 0) {
      throw new RangeError(`Expected \`theta\` to hold whole configurations of 2·L·L = ${this.links} link angles but it has ${theta.length} values`);
    }
    return theta.length / this.links;
  }

  /** S(θ) of each configuration: [n]. */
  action<A extends FloatArray>(theta: A): A {
    const out = new (theta.constructor as { new (n: number): A })(this.count(theta));
    native.u1Action(this.L, this.beta, theta, out);
    return out;
  }

  /** S(θ) [n] and ∂S/∂θ [n, 2V]. */
  actionAndGrad<A extends FloatArray>(theta: A): { action: A; grad: A } {
    const make = theta.constructor as { new (n: number): A };
    const action = new make(this.count(theta));
    const grad = new make(theta.length);
    native.u1Action(this.L, this.beta, theta, action, grad);
    return { action, grad };
  }

  /**
   * S(θ) [n], ∂S/∂θ [n, 2V] and Q [n] of θ [n, 2V] on a backend (op lattice.u1_action): 'cpu' (the
   * default: the native kernels, in double), 'webgpu' (kernels/lattice/u1.wgsl, f32: θ and β rounded
   * to f32, the results within the op's tolerance of the CPU's), 'cuda' (kernels/lattice/u1.cu: the
   * CPU's functions in double, one thread per configuration), or 'auto'.
   */
  async evaluateAsync(theta: Float64Array, options: { backend?: BackendRequest } = {}): Promise<{ action: Float64Array; grad: Float64Array; charge: Float64Array }> {
    const { backendForOp } = await import('../backend/backend.js');
    const b = await backendForOp(options.backend ?? 'cpu', 'lattice.u1_action');
    return b.u1Action({ L: this.L, beta: this.beta }, theta);
  }

  /** The topological charge Q of each configuration: [n] (integers). */
  topologicalCharge<A extends FloatArray>(theta: A): A {
    const make = theta.constructor as { new (n: number): A };
    const n = this.count(theta);
    const charge = new make(n);
    native.u1Action(this.L, this.beta, theta, new make(n), undefined, charge);
    return charge;
  }
}

/**
 * The gauge transformation θ_μ(x) → θ_μ(x) + α(x) − α(x + μ̂) of each configuration, α [n, V]
 * (or [V] for all): plaquettes, S and Q are invariant under it.
 */
export function u1GaugeTransform(L: number, theta: Float64Array, alpha: Float64Array): Float64Array {
  checkPositiveInteger(L, 'L', 4096);
  const V = L * L;
  if (theta.length % (2 * V) !== 0) throw new RangeError(`Expected \`theta\` to hold whole configurations of ${2 * V} link angles but it has ${theta.length} values`);
  const n = theta.length / (2 * V);
  if (alpha.length !== V && alpha.length !== n * V) throw new RangeError(`Expected \`alpha\` of ${V} or ${n * V} values but received ${alpha.length}`);
  const out = Float64Array.from(theta);
  for (let c = 0; c < n; c++) {
    const a = alpha.length === V ? alpha : alpha.subarray(c * V, (c + 1) * V);
    for (let x0 = 0; x0 < L; x0++) {
      for (let x1 = 0; x1 < L; x1++) {
        const x = x0 * L + x1;
        out[c * 2 * V + x]! += a[x]! - a[((x0 + 1) % L) * L + x1]!;
        out[c * 2 * V + V + x]! += a[x]! - a[x0 * L + ((x1 + 1) % L)]!;
      }
    }
  }
  return out;
}

export interface U1HmcResult {
  chains: number;
  steps: number;
  /** The last configuration of each chain [chains, 2V] (angles not reduced mod 2π). */
  theta: Float64Array;
  /** After each trajectory: Q and S(θ), [chains, steps] row-major. */
  charge: Float64Array;
  action: Float64Array;
  accepted: Uint8Array;
  acceptance: number;
}

function asU1({ field, observable, ...rest }: HmcChains): U1HmcResult {
  return { ...rest, theta: field, charge: observable };
}

function checkTarget(target: U1Action): void {
  if (!(target instanceof U1Action)) throw new TypeError(`Expected a U1Action for \`target\` but received ${describe(target)}`);
}

/**
 * HMC for e^{−S} on all 2V link angles (leapfrog, jittered step size, Metropolis on ΔH); trajectory
 * t of chain c draws from Philox stream c·2³² + stepOffset + t of `seed`. Start: all links 0 (cold) unless `init`.
 */
export function u1Hmc(target: U1Action, options: HmcOptions): U1HmcResult {
  checkTarget(target);
  return asU1(runHmc(target.links, options, (f, o, q, a, acc) => native.u1Hmc(target.L, target.beta, f, o, q, a, acc)));
}

/** `u1Hmc` off the event loop: `onProgress(chainsDone, chains)`; aborting `signal` rejects with SbiError ABORTED. */
export async function u1HmcAsync(target: U1Action, options: HmcAsyncOptions): Promise<U1HmcResult> {
  checkTarget(target);
  return asU1(await runHmcAsync(target.links, options, (f, o, q, a, acc, p, c) =>
    native.u1HmcAsync(target.L, target.beta, f, o, q, a, acc, p, c)));
}

export interface U1ExactResult {
  /** ⟨Q²⟩ (⟨Q⟩ = 0). */
  meanQ2: number;
  /** χ_Q = ⟨Q²⟩ / V. */
  topologicalSusceptibility: number;
  /** ⟨cos P⟩ = −⟨S⟩ / (βV). */
  meanPlaquette: number;
}

/**
 * Exact ⟨Q²⟩ and ⟨cos P⟩ of 2-D U(1) on the L×L torus. The V plaquette angles are independent
 * and uniform under the Haar measure except for one constraint, Σ_x P(x) ≡ 0 (mod 2π), so with
 * φ_x = wrap(P(x)) and Q = Σ φ_x / 2π, writing the periodic delta as (1/2π) Σ_n e^{inΣφ},
 *   Z(ϑ) = Σ_Q Z_Q e^{iϑQ} ∝ Σ_{n∈ℤ} g(n + ϑ/2π)^V,  g(ν) = (1/π) ∫₀^π e^{β cos φ} cos(νφ) dφ
 * (g(n) = I_n(β)). ⟨Q²⟩ = −Z''(0)/Z(0), ⟨cos P⟩ = ∂_β log Z / V; the integrals by composite
 * Simpson on 4096 intervals (error far below 1e−10 for β ≤ 10), the sum over |n| ≤ 64 terms
 * that matter. β must be in [0, 10].
 */
export function u1Exact(L: number, beta: number): U1ExactResult {
  checkPositiveInteger(L, 'L', 4096);
  checkFinite(beta, 'beta');
  if (!(beta >= 0 && beta <= 10)) throw new RangeError(`Expected \`beta\` in [0, 10] for the exact solution but received ${beta}`);
  const V = L * L;
  const intervals = 4096;
  const h = Math.PI / intervals;
  // Simpson sums of e^{β cos φ} times cos(nφ), φ sin(nφ), φ² cos(nφ), cos φ cos(nφ), over [0, π].
  const moments = (n: number) => {
    let g = 0, g1 = 0, g2 = 0, gb = 0;
    for (let i = 0; i <= intervals; i++) {
      const phi = i * h;
      const w = (i === 0 || i === intervals ? 1 : i % 2 === 1 ? 4 : 2) * (h / 3) / Math.PI;
      const e = Math.exp(beta * Math.cos(phi));
      const c = Math.cos(n * phi);
      g += w * e * c;
      g1 -= w * e * phi * Math.sin(n * phi);
      g2 -= w * e * phi * phi * c;
      gb += w * e * Math.cos(phi) * c;
    }
    return { g, g1, g2, gb };
  };
  const terms: { logW: number; q2: number; plaq: number }[] = [];
  for (let n = 0; n <= 64; n++) {
    const m = moments(n);
    if (!(m.g > 0)) break;  // I_n(β) > 0 for β > 0; at β = 0 only n = 0 remains
    const q2 = -(V * (V - 1) * (m.g1 / m.g) ** 2 + V * (m.g2 / m.g)) / (4 * Math.PI * Math.PI);
    const t = { logW: V * Math.log(m.g), q2, plaq: m.gb / m.g };
    terms.push(t);
    if (n > 0) terms.push(t);  // n and −n contribute alike (g even, g' odd)
    if (t.logW - terms[0]!.logW < -745) break;  // e^{V log(g_n / g_0)} underflows: the rest add nothing
  }
  const top = Math.max(...terms.map((t) => t.logW));
  let z = 0, q2 = 0, plaq = 0;
  for (const t of terms) {
    const w = Math.exp(t.logW - top);
    z += w;
    q2 += w * t.q2;
    plaq += w * t.plaq;
  }
  return { meanQ2: q2 / z, topologicalSusceptibility: q2 / z / V, meanPlaquette: plaq / z };
}
