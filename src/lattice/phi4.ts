/**
 * Scalar φ⁴ theory on an L×L periodic lattice (issue 5), in the normalisation of Albergo et al.,
 * "Introduction to normalizing flows for lattice field theory", arXiv:2101.08176:
 *   S(φ) = Σ_x [ m² φ_x² + λ φ_x⁴ + Σ_μ (2 φ_x² − φ_x φ_{x+μ} − φ_x φ_{x−μ}) ].
 * Configurations are Float64Array / Float32Array [n, L·L], site (x₀, x₁) at index x₀·L + x₁.
 * The kernels are kernels/lattice/phi4.h; the HMC baseline runs natively, one chain per task.
 */
import { native } from '../native.js';
import { runHmc, runHmcAsync, type HmcAsyncOptions, type HmcChains, type HmcOptions } from './hmc.js';
import { checkFinite, checkPositiveInteger, checkNonNegativeInteger, describe } from '../validate.js';
import { integratedAutocorrelation } from './autocorrelation.js';
import type { BackendRequest } from '../backend/backend.js';

export interface Phi4Coupling {
  /** Lattice extent L (V = L² sites). */
  L: number;
  m2: number;
  lambda: number;
}

type FloatArray = Float64Array | Float32Array;

/** The action S(φ) and its gradient, batched over configurations. */
export class Phi4Action {
  readonly L: number;
  readonly m2: number;
  readonly lambda: number;
  private readonly coupling: Float64Array;

  constructor({ L, m2, lambda }: Phi4Coupling) {
    this.L = checkPositiveInteger(L, 'L', 4096);
    this.m2 = checkFinite(m2, 'm2');
    this.lambda = checkFinite(lambda, 'lambda');
    this.coupling = Float64Array.of(m2, lambda);
  }

  /** V = L² sites. */
  get sites(): number {
    return this.L * this.L;
  }

  private count(phi: FloatArray): number {
    if (!(phi instanceof Float64Array || phi instanceof Float32Array)) {
      throw new TypeError(`Expected a Float64Array or Float32Array for \`phi\` but received ${describe(phi)}`);
    }
    if (phi.length % this.sites !== 0) {
      throw new RangeError(`Expected \`phi\` to hold whole configurations of ${this.sites} sites but it has ${phi.length} values`);
    }
    return phi.length / this.sites;
  }

  /** S(φ) of each configuration: [n]. */
  action<A extends FloatArray>(phi: A): A {
    const out = new (phi.constructor as { new (n: number): A })(this.count(phi));
    native.phi4Action(this.L, this.coupling, phi, out);
    return out;
  }

  /** S(φ) [n] and ∂S/∂φ [n, V]. */
  actionAndGrad<A extends FloatArray>(phi: A): { action: A; grad: A } {
    const make = phi.constructor as { new (n: number): A };
    const action = new make(this.count(phi));
    const grad = new make(phi.length);
    native.phi4Action(this.L, this.coupling, phi, action, grad);
    return { action, grad };
  }

  /**
   * S(φ) [n] and ∂S/∂φ [n, V] of φ [n, V] on a backend (op lattice.phi4_action): 'cpu' (the
   * default: the native kernels, in double), 'webgpu' (kernels/lattice/phi4.wgsl, f32: φ, m² and λ
   * rounded to f32, the results within the op's tolerance of the CPU's), 'cuda' (kernels/lattice/phi4.cu:
   * the CPU's function in double, one thread per configuration), or 'auto'.
   */
  async evaluateAsync(phi: Float64Array, options: { backend?: BackendRequest } = {}): Promise<{ action: Float64Array; grad: Float64Array }> {
    const { backendForOp } = await import('../backend/backend.js');
    const b = await backendForOp(options.backend ?? 'cpu', 'lattice.phi4_action');
    return b.phi4Action({ L: this.L, m2: this.m2, lambda: this.lambda }, phi);
  }

  /** The native arguments (L, [m², λ]) of this action. */
  get nativeCoupling(): Float64Array {
    return this.coupling;
  }
}

export type { HmcOptions } from './hmc.js';

export interface HmcResult {
  chains: number;
  steps: number;
  /** The last configuration of each chain [chains, V]. */
  phi: Float64Array;
  /** After each trajectory: M = Σ_x φ_x and S(φ), [chains, steps] row-major. */
  magnetization: Float64Array;
  action: Float64Array;
  /** 1 where trajectory (c, t) was accepted. */
  accepted: Uint8Array;
  /** Fraction of trajectories accepted. */
  acceptance: number;
}

function checkTarget(target: Phi4Action): void {
  if (!(target instanceof Phi4Action)) throw new TypeError(`Expected a Phi4Action for \`target\` but received ${describe(target)}`);
  if (target.lambda < 0 || (target.lambda === 0 && target.m2 <= 0)) {
    throw new RangeError(`Expected lambda > 0, or lambda = 0 with m2 > 0 (a normalisable e^-S), but received m2 = ${target.m2}, lambda = ${target.lambda}`);
  }
}

function asPhi4({ field, observable, ...rest }: HmcChains): HmcResult {
  return { ...rest, phi: field, magnetization: observable };
}

/**
 * Hybrid Monte Carlo (Duane et al., Phys. Lett. B 195, 1987) for e^{−S}: leapfrog with
 * `leapfrogSteps` steps of a jittered `stepSize`, Metropolis accept on ΔH; trajectory t of
 * chain c draws its momenta, jitter and accept uniform from Philox stream c·2³² + stepOffset + t
 * of `seed`.
 */
export function hmc(target: Phi4Action, options: HmcOptions): HmcResult {
  checkTarget(target);
  return asPhi4(runHmc(target.sites, options, (f, o, m, a, acc) => native.phi4Hmc(target.L, target.nativeCoupling, f, o, m, a, acc)));
}

/** `hmc` off the event loop: `onProgress(chainsDone, chains)`; aborting `signal` rejects with SbiError ABORTED. */
export async function hmcAsync(target: Phi4Action, options: HmcAsyncOptions): Promise<HmcResult> {
  checkTarget(target);
  return asPhi4(await runHmcAsync(target.sites, options, (f, o, m, a, acc, p, c) =>
    native.phi4HmcAsync(target.L, target.nativeCoupling, f, o, m, a, acc, p, c)));
}

export interface SusceptibilityEstimate {
  /** χ₂ = Σ_x G_c(x) = (⟨M²⟩ − ⟨M⟩²) / V. */
  value: number;
  /** Its standard error from the τ_int of M² / V. */
  error: number;
  /** τ_int of M² / V (Sokal windowing) and its error. */
  tau: number;
  tauError: number;
}

/**
 * The two-point susceptibility χ₂ = Σ_x G_c(x) with the connected two-point function of the
 * tutorial (arXiv:2101.08176), G_c(x) = (1/V) Σ_y [⟨φ_y φ_{y+x}⟩ − ⟨φ_y⟩⟨φ_{y+x}⟩], which sums
 * to (⟨M²⟩ − ⟨M⟩²) / V with M = Σ_x φ_x. `magnetization` is [chains, steps] (burn-in removed);
 * the error is the τ_int-corrected standard error of ⟨M²⟩ / V (the ⟨M⟩² term's is second order).
 */
export function twoPointSusceptibility(magnetization: Float64Array, sites: number, chains = 1): SusceptibilityEstimate {
  checkPositiveInteger(sites, 'sites');
  const m2 = magnetization.map((m) => (m * m) / sites);
  const ac = integratedAutocorrelation(m2, { chains });
  let mean = 0;
  for (const m of magnetization) mean += m;
  mean /= magnetization.length;
  return { value: ac.mean - (mean * mean) / sites, error: ac.meanError, tau: ac.tau, tauError: ac.tauError };
}

/** Drops the first `burnIn` records of each chain of a [chains, steps] series. */
export function dropBurnIn(series: Float64Array, chains: number, burnIn: number): Float64Array {
  const steps = series.length / chains;
  checkNonNegativeInteger(burnIn, 'burnIn');
  if (!Number.isInteger(steps) || burnIn >= steps) {
    throw new RangeError(`Expected \`burnIn\` below the ${steps} steps of each of ${chains} chains but received ${burnIn}`);
  }
  const out = new Float64Array(chains * (steps - burnIn));
  for (let c = 0; c < chains; c++) out.set(series.subarray(c * steps + burnIn, (c + 1) * steps), c * (steps - burnIn));
  return out;
}

/**
 * The exact propagator of the free theory (λ = 0, m² > 0): e^{−S} is Gaussian with precision
 * 2(−Δ + m²), so ⟨φ_y φ_{y+x}⟩ = (1/V) Σ_p cos(p·x) / (2 (p̂² + m²)), p̂² = Σ_μ 4 sin²(p_μ / 2),
 * p_μ = 2π k_μ / L. Returns G(x) [L·L] (G(0) = ⟨φ²⟩; Σ_x G(x) = χ₂ = 1 / (2 m²)).
 */
export function freePropagator(L: number, m2: number): Float64Array {
  checkPositiveInteger(L, 'L', 4096);
  if (!(m2 > 0)) throw new RangeError(`Expected a positive \`m2\` for the free theory but received ${describe(m2)}`);
  const V = L * L;
  const inv = new Float64Array(V);
  for (let k0 = 0; k0 < L; k0++) {
    for (let k1 = 0; k1 < L; k1++) {
      const s0 = Math.sin((Math.PI * k0) / L);
      const s1 = Math.sin((Math.PI * k1) / L);
      inv[k0 * L + k1] = 1 / (2 * (4 * s0 * s0 + 4 * s1 * s1 + m2));
    }
  }
  const g = new Float64Array(V);
  for (let x0 = 0; x0 < L; x0++) {
    for (let x1 = 0; x1 < L; x1++) {
      let s = 0;
      for (let k0 = 0; k0 < L; k0++) {
        for (let k1 = 0; k1 < L; k1++) s += Math.cos((2 * Math.PI * (k0 * x0 + k1 * x1)) / L) * inv[k0 * L + k1]!;
      }
      g[x0 * L + x1] = s / V;
    }
  }
  return g;
}
