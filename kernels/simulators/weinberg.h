// e⁺e⁻ → μ⁺μ⁻ at tree level (γ and Z exchange): the angular distribution of the μ⁻ and its
// forward–backward asymmetry, as a function of θ = sin²θ_W at centre-of-mass energy √s (the design
// variable). The SBI / experimental-design toy of Cranmer & Heinrich (github.com/cranmer/
// active_sciencing, demo_weinberg), here in its standard tree-level form (e.g. Halzen & Martin,
// "Quarks and Leptons", ch. 13; at the pole A_FB → ¾ A_e A_μ, PDG electroweak review).
//
//   x = cos θ* of the μ⁻ relative to the e⁻ beam, x ∈ [−1, 1]
//   χ    = s / (s − M_Z² + i M_Z Γ_Z) / (4 sin²θ_W cos²θ_W),  M_Z = 91.1876, Γ_Z = 2.4952 GeV
//   v    = −1/2 + 2 sin²θ_W,  a = −1/2   (same couplings for e and μ)
//   A0   = 1 + 2 v² Re χ + (v² + a²)² |χ|²,   A1 = 4 a² Re χ + 8 v² a² |χ|²
//   p(x | θ) = 3/8 (1 + x² + b x),  b = A1/A0,   A_FB = 3 A1 / (8 A0) = 3b/8
// (≈ 0.0167 at √s = M_Z for sin²θ_W = 0.2312). |b| ≤ 2 always: the cross-section is
// c₊(1 + x)² + c₋(1 − x)² with c± ≥ 0 (helicity amplitudes squared), so p ≥ 0 on [−1, 1].
//
// Sampling: exact inversion of the cubic CDF
//   F(x) = (x + 1)(x² − x + 4 + 3b/2 (x − 1)) / 8,   1 − F(x) = (1 − x)(x² + x + 4 + 3b/2 (x + 1)) / 8,
// F(x) = u ⇔ x³ + (3b/2) x² + 3x + (4 − 3b/2 − 8u) = 0, which is increasing in x (one real root):
// Cardano in the cancellation-free form, then one Newton step on whichever tail is small, clamped
// to [−1, 1]. One uniform() per row. Gold: there is no latent, so the joint log-likelihood,
// score and log-ratio are those of p(x | θ) itself, evaluated at the float32 x that is returned.
#pragma once
#include "../random/philox.h"
#include "sim_row.h"

namespace sbi {

constexpr double kZMass = 91.1876;   // GeV (PDG)
constexpr double kZWidth = 2.4952;   // GeV (PDG)

// b = A1/A0 and db/dθ (θ = sin²θ_W) at √s. Requires 0 < θ < 1.
struct WeinbergShape {
  double b;
  double db;
};

SBI_HD WeinbergShape weinberg_shape(double sin2w, double sqrt_s) {
  const double s = sqrt_s * sqrt_s;
  const double m2 = kZMass * kZMass;
  const double d = s - m2;
  const double denom = d * d + m2 * kZWidth * kZWidth;  // |s − M² + i M Γ|²
  const double re0 = s * d / denom;                    // Re χ · 4 sin²cos²
  const double abs0 = s * s / denom;                   // |χ|² · (4 sin²cos²)²
  const double cos2w = 1.0 - sin2w;
  const double k = 1.0 / (4.0 * sin2w * cos2w);
  const double dk = -k * (1.0 - 2.0 * sin2w) / (sin2w * cos2w);
  const double re = k * re0, dre = dk * re0;
  const double abs2 = k * k * abs0, dabs2 = 2.0 * k * dk * abs0;
  const double v = -0.5 + 2.0 * sin2w, dv = 2.0;
  const double a2 = 0.25;
  const double v2 = v * v, dv2 = 2.0 * v * dv;
  const double w = v2 + a2;  // v² + a², dw = dv2
  const double A0 = 1.0 + 2.0 * v2 * re + w * w * abs2;
  const double dA0 = 2.0 * (dv2 * re + v2 * dre) + 2.0 * w * dv2 * abs2 + w * w * dabs2;
  const double A1 = 4.0 * a2 * re + 8.0 * v2 * a2 * abs2;
  const double dA1 = 4.0 * a2 * dre + 8.0 * a2 * (dv2 * abs2 + v2 * dabs2);
  WeinbergShape out;
  out.b = A1 / A0;
  out.db = (dA1 - out.b * dA0) / A0;
  return out;
}

// 8/3 · p(x): 1 + x² + b x.
SBI_HD double weinberg_density_shape(double x, double b) { return 1.0 + x * x + b * x; }

SBI_HD double weinberg_log_pdf(double x, double b) { return log(0.375 * weinberg_density_shape(x, b)); }

// x with F(x) = u, u ∈ (0, 1), |b| ≤ 2.
SBI_HD double weinberg_inverse_cdf(double u, double b) {
  // Depressed cubic y³ + P y + Q = 0 with x = y − b/2; P ≥ 0, so Δ ≥ 0 and the root is real.
  const double P = 3.0 * (1.0 - 0.25 * b * b);
  const double Q = 0.25 * b * b * b - 3.0 * b + 4.0 - 8.0 * u;
  const double sqrt_delta = sqrt(0.25 * Q * Q + P * P * P / 27.0);
  // The cube root of larger magnitude, −sign(Q) ∛(|Q|/2 + √Δ); the other one is −P/(3A).
  const double A = Q > 0.0 ? -cbrt(0.5 * Q + sqrt_delta) : cbrt(-0.5 * Q + sqrt_delta);
  const double y = A != 0.0 ? A - P / (3.0 * A) : 0.0;
  const double x = fmin(1.0, fmax(-1.0, y - 0.5 * b));
  // One Newton step against Cardano's round-off (≈ 1e-15 in x, up to ≈ 1e-12 where |b| → 2 makes
  // the density vanish at an end): F(x) − u from the lower tail for u < 1/2, from the upper one
  // otherwise (1 − u is exact), so the residual keeps its relative accuracy in both tails.
  const double pdf = 0.375 * weinberg_density_shape(x, b);
  if (!(pdf > 0.0)) return x;
  const double c = 1.5 * b;
  const double resid = u < 0.5 ? (x + 1.0) * (x * x - x + 4.0 + c * (x - 1.0)) * 0.125 - u
                               : (1.0 - u) - (1.0 - x) * (x * x + x + 4.0 + c * (x + 1.0)) * 0.125;
  return fmin(1.0, fmax(-1.0, x - resid / pdf));
}

SBI_HD bool simulate_weinberg(const SimRow& row, PhiloxStream& rng) {
  const double sin2w = row.theta[0];
  const double sqrt_s = row.design[0];
  if (!(sin2w > 0.0 && sin2w < 1.0) || !(sqrt_s > 0.0)) return false;
  const WeinbergShape shape = weinberg_shape(sin2w, sqrt_s);
  if (!(fabs(shape.b) <= 2.0)) return false;
  const float xf = static_cast<float>(weinberg_inverse_cdf(rng.uniform(), shape.b));
  row.x[0] = xf;
  const double x = xf;
  const double q = weinberg_density_shape(x, shape.b);
  if (row.joint_log_likelihood) *row.joint_log_likelihood = log(0.375 * q);
  if (row.joint_score) row.joint_score[0] = x * shape.db / q;
  if (row.joint_log_ratio) {
    const double ref = row.theta_ref[0];
    if (!(ref > 0.0 && ref < 1.0)) return false;
    *row.joint_log_ratio = log(q / weinberg_density_shape(x, weinberg_shape(ref, sqrt_s).b));
  }
  return true;
}

}  // namespace sbi
