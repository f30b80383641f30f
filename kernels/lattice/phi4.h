// Scalar φ⁴ theory on an L×L periodic lattice (issue 5; the normalisation of Albergo et al.,
// "Introduction to normalizing flows for lattice field theory", arXiv:2101.08176):
//   S(φ) = Σ_x [ m² φ_x² + λ φ_x⁴ + Σ_μ (2 φ_x² − φ_x φ_{x+μ} − φ_x φ_{x−μ}) ],  μ ∈ {0, 1}.
// On a periodic lattice Σ_x φ_x φ_{x−μ} = Σ_x φ_x φ_{x+μ}, so
//   S(φ) = Σ_x [ (4 + m²) φ_x² + λ φ_x⁴ − 2 φ_x (φ_{x+ê₀} + φ_{x+ê₁}) ]
//   ∂S/∂φ_x = 2 (4 + m²) φ_x + 4 λ φ_x³ − 2 Σ_μ (φ_{x+μ} + φ_{x−μ}).
// Site x = (x₀, x₁) is index x₀·L + x₁ of a configuration [L·L]. For λ = 0 the density e^{−S}
// is Gaussian with precision 2(−Δ + m²) (Δ the lattice Laplacian), so in momentum space
// ⟨|φ̃_p|²⟩ = 1 / (2 (p̂² + m²)), p̂² = Σ_μ 4 sin²(p_μ / 2) — the exact check of the HMC tests.
//
// HMC (kernels/lattice/hmc.h) runs on Phi4Model, recording the magnetisation M.
#pragma once
#include "../common/portable.h"
#include "hmc.h"

namespace sbi {

template <class T>
struct Phi4Params {
  int L;
  T m2;
  T lambda;
};

// S(φ) of one configuration [L·L].
template <class T>
SBI_HD T phi4_action(const Phi4Params<T>& p, const T* phi) {
  const int L = p.L;
  const T diag = T(4) + p.m2;
  T s = T(0);
  for (int x0 = 0; x0 < L; ++x0) {
    const int x0n = x0 + 1 == L ? 0 : x0 + 1;
    for (int x1 = 0; x1 < L; ++x1) {
      const int x1n = x1 + 1 == L ? 0 : x1 + 1;
      const T f = phi[x0 * L + x1];
      const T f2 = f * f;
      s += diag * f2 + p.lambda * f2 * f2 - T(2) * f * (phi[x0n * L + x1] + phi[x0 * L + x1n]);
    }
  }
  return s;
}

// grad[x] = ∂S/∂φ_x; returns S(φ).
template <class T>
SBI_HD T phi4_action_grad(const Phi4Params<T>& p, const T* phi, T* grad) {
  const int L = p.L;
  const T diag = T(4) + p.m2;
  T s = T(0);
  for (int x0 = 0; x0 < L; ++x0) {
    const int x0n = x0 + 1 == L ? 0 : x0 + 1;
    const int x0p = x0 == 0 ? L - 1 : x0 - 1;
    for (int x1 = 0; x1 < L; ++x1) {
      const int x1n = x1 + 1 == L ? 0 : x1 + 1;
      const int x1p = x1 == 0 ? L - 1 : x1 - 1;
      const T f = phi[x0 * L + x1];
      const T f2 = f * f;
      const T up = phi[x0n * L + x1] + phi[x0 * L + x1n];
      const T down = phi[x0p * L + x1] + phi[x0 * L + x1p];
      s += diag * f2 + p.lambda * f2 * f2 - T(2) * f * up;
      grad[x0 * L + x1] = T(2) * diag * f + T(4) * p.lambda * f2 * f - T(2) * (up + down);
    }
  }
  return s;
}

// M = Σ_x φ_x, the magnetisation; χ₂ = (⟨M²⟩ − ⟨M⟩²) / V over an ensemble.
template <class T>
SBI_HD T phi4_magnetization(int L, const T* phi) {
  T m = T(0);
  for (int i = 0; i < L * L; ++i) m += phi[i];
  return m;
}

// The HMC model of kernels/lattice/hmc.h: φ itself, observable M.
struct Phi4Model {
  Phi4Params<double> p;
  SBI_HD int size() const { return p.L * p.L; }
  SBI_HD double action_grad(const double* phi, double* grad) const { return phi4_action_grad(p, phi, grad); }
  SBI_HD double observable(const double* phi) const { return phi4_magnetization(p.L, phi); }
};

}  // namespace sbi
