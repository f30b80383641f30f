/**
 * Analytic angular distribution of e⁺e⁻ → μ⁺μ⁻ at tree level (γ + Z), the model of
 * `kernels/simulators/weinberg.h`. θ = sin²θ_W, x = cos θ* of the μ⁻ w.r.t. the e⁻ beam, √s in GeV:
 *
 *   χ  = s / (s − M_Z² + i M_Z Γ_Z) / (4 sin²θ_W cos²θ_W),  v = −1/2 + 2 sin²θ_W,  a = −1/2
 *   A0 = 1 + 2 v² Re χ + (v² + a²)² |χ|²,   A1 = 4 a² Re χ + 8 v² a² |χ|²
 *   p(x | θ) = 3/8 (1 + x² + b x),  b = A1/A0,   A_FB = 3 A1 / (8 A0)
 *   ∂/∂θ log p(x | θ) = x b′(θ) / (1 + x² + b x),   b′ = (A1′ − b A0′) / A0
 */

export const Z_MASS = 91.1876;
export const Z_WIDTH = 2.4952;

export interface WeinbergCoefficients {
  A0: number;
  A1: number;
  /** ∂A0/∂ sin²θ_W */
  dA0: number;
  /** ∂A1/∂ sin²θ_W */
  dA1: number;
}

function checkDomain(sin2w: number, sqrtS: number): void {
  if (!(sin2w > 0 && sin2w < 1)) {
    throw new RangeError(`Expected sin²θ_W in (0, 1) but received ${sin2w}`);
  }
  if (!(sqrtS > 0) || !Number.isFinite(sqrtS)) {
    throw new RangeError(`Expected a positive finite √s (GeV) but received ${sqrtS}`);
  }
}

/** A0, A1 and their derivatives with respect to sin²θ_W at centre-of-mass energy √s (GeV). */
export function weinbergCoefficients(sin2w: number, sqrtS: number): WeinbergCoefficients {
  checkDomain(sin2w, sqrtS);
  const s = sqrtS * sqrtS;
  const m2 = Z_MASS * Z_MASS;
  const d = s - m2;
  const denom = d * d + m2 * Z_WIDTH * Z_WIDTH;
  const cos2w = 1 - sin2w;
  const k = 1 / (4 * sin2w * cos2w);
  const dk = (-k * (1 - 2 * sin2w)) / (sin2w * cos2w);
  const re = (k * s * d) / denom;
  const dre = (dk * s * d) / denom;
  const abs2 = (k * k * s * s) / denom;
  const dabs2 = (2 * k * dk * s * s) / denom;
  const v = -0.5 + 2 * sin2w;
  const a2 = 0.25;
  const v2 = v * v;
  const dv2 = 4 * v;  // ∂v²/∂θ = 2 v · 2
  const w = v2 + a2;
  return {
    A0: 1 + 2 * v2 * re + w * w * abs2,
    A1: 4 * a2 * re + 8 * v2 * a2 * abs2,
    dA0: 2 * (dv2 * re + v2 * dre) + 2 * w * dv2 * abs2 + w * w * dabs2,
    dA1: 4 * a2 * dre + 8 * a2 * (dv2 * abs2 + v2 * dabs2),
  };
}

/** Forward–backward asymmetry A_FB = 3 A1 / (8 A0). */
export function weinbergAsymmetry(sin2w: number, sqrtS: number = Z_MASS): number {
  const c = weinbergCoefficients(sin2w, sqrtS);
  return (3 * c.A1) / (8 * c.A0);
}

/** log p(x | θ) at √s; −Infinity for x outside [−1, 1]. */
export function weinbergLogPdf(x: number, sin2w: number, sqrtS: number = Z_MASS): number {
  const c = weinbergCoefficients(sin2w, sqrtS);
  if (!(x >= -1 && x <= 1)) return -Infinity;
  return Math.log(0.375 * (1 + x * x + (c.A1 / c.A0) * x));
}

/** ∂/∂ sin²θ_W log p(x | θ) at √s (x in [−1, 1]). */
export function weinbergScore(x: number, sin2w: number, sqrtS: number = Z_MASS): number {
  const c = weinbergCoefficients(sin2w, sqrtS);
  const b = c.A1 / c.A0;
  const db = (c.dA1 - b * c.dA0) / c.A0;
  return (x * db) / (1 + x * x + b * x);
}

/** P(X ≤ x | θ) = (x + 1)(x² − x + 4 + 3b/2 (x − 1)) / 8, clamped outside [−1, 1]. */
export function weinbergCdf(x: number, sin2w: number, sqrtS: number = Z_MASS): number {
  const c = weinbergCoefficients(sin2w, sqrtS);
  if (x <= -1) return 0;
  if (x >= 1) return 1;
  const b = c.A1 / c.A0;
  return ((x + 1) * (x * x - x + 4 + 1.5 * b * (x - 1))) / 8;
}
