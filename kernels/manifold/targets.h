// Unnormalised target log-densities on T² and S² and their gradients, for training flows by
// reverse KL. Rezende et al., "Normalizing flows on tori and spheres", ICML 2020,
// arXiv:2002.02428 (section 5; definitions as stated in docs/manifold.md):
//   torus-unimodal    log p̃(θ) = cos(θ₁ − 4.18) + cos(θ₂ − 5.96)
//   torus-multimodal  log p̃(θ) = log (1/3) Σ_{i=1..3} exp(cos(θ₁ − a_i) + cos(θ₂ − b_i)),
//                     (a, b) = (0.21, 2.85), (1.89, 6.18), (3.77, 1.56)
//   torus-correlated  log p̃(θ) = cos(θ₁ + θ₂ − 1.94)
//   sphere-vmf4       log p̃(x) = log Σ_{k=1..4} exp(10 μ_kᵀx), x ∈ S² ⊂ ℝ³,
//                     μ_k = (cos a cos b, cos a sin b, sin a) for (a, b) = (0.7, 1.5), (−1, 1),
//                     (0.6, 0.5), (−0.7, 4)
//   sphere3-vmf4      log p̃(x) = log Σ_{k=1..4} exp(10 ν_kᵀx), x ∈ S³ ⊂ ℝ⁴, ν_k = n_k/|n_k| for
//                     n = (1, 0, 0, 0), (−0.2, 0.9, 0.3, −0.2), (0.1, −0.4, 0.8, 0.4),
//                     (−0.5, −0.3, −0.4, 0.7) (this project's choice). On SU(2) ≅ S³,
//                     x ↦ U = [[x₁ + i x₂, x₃ + i x₄], [−x₃ + i x₄, x₁ − i x₂]] and
//                     2 νᵀx = Re tr(V† U) with V the image of ν: bumps exp(5 Re tr(V_k† U)).
// Torus targets take the angles and return ∂/∂θ; the sphere targets take x ∈ ℝ^{D+1} and return the
// Euclidean gradient ∂/∂x (the flow chains it through its cylindrical coordinates). Mixtures
// use log-sum-exp with the maximum taken out, so no term overflows. Portable, no allocation.
#pragma once
#include <cmath>

#include "../common/portable.h"

namespace sbi {
namespace manifold {

enum class TargetKind : int { TorusUnimodal = 0, TorusMultimodal = 1, TorusCorrelated = 2, SphereVmf4 = 3, Sphere3Vmf4 = 4 };

// The width of the target's argument: angles on T², or x ∈ ℝ³ on S², x ∈ ℝ⁴ on S³.
SBI_HD int target_input_width(TargetKind t) {
  return t == TargetKind::SphereVmf4 ? 3 : (t == TargetKind::Sphere3Vmf4 ? 4 : 2);
}

// log Σ_i exp(e_i) and the softmax weights w_i (overwriting e), n ≤ 8.
template <class T>
SBI_HD T log_sum_exp_weights(int n, T* e) {
  T m = e[0];
  for (int i = 1; i < n; ++i) m = e[i] > m ? e[i] : m;
  T s = T(0);
  for (int i = 0; i < n; ++i) {
    e[i] = std::exp(e[i] - m);
    s += e[i];
  }
  for (int i = 0; i < n; ++i) e[i] /= s;
  return m + std::log(s);
}

// log p̃ at v (angles or x) and its gradient (may be null).
template <class T>
SBI_HD T target_log_density(TargetKind t, const T* v, T* grad) {
  switch (t) {
    case TargetKind::TorusUnimodal: {
      if (grad) {
        grad[0] = -std::sin(v[0] - T(4.18));
        grad[1] = -std::sin(v[1] - T(5.96));
      }
      return std::cos(v[0] - T(4.18)) + std::cos(v[1] - T(5.96));
    }
    case TargetKind::TorusMultimodal: {
      const T a[3] = {T(0.21), T(1.89), T(3.77)}, b[3] = {T(2.85), T(6.18), T(1.56)};
      T e[3];
      for (int i = 0; i < 3; ++i) e[i] = std::cos(v[0] - a[i]) + std::cos(v[1] - b[i]);
      const T lse = log_sum_exp_weights(3, e) - std::log(T(3));
      if (grad) {
        grad[0] = grad[1] = T(0);
        for (int i = 0; i < 3; ++i) {
          grad[0] -= e[i] * std::sin(v[0] - a[i]);
          grad[1] -= e[i] * std::sin(v[1] - b[i]);
        }
      }
      return lse;
    }
    case TargetKind::TorusCorrelated: {
      const T u = v[0] + v[1] - T(1.94);
      if (grad) grad[0] = grad[1] = -std::sin(u);
      return std::cos(u);
    }
    case TargetKind::SphereVmf4: {
      const T lat[4] = {T(0.7), T(-1), T(0.6), T(-0.7)}, lon[4] = {T(1.5), T(1), T(0.5), T(4)};
      T mu[4][3], e[4];
      for (int k = 0; k < 4; ++k) {
        mu[k][0] = std::cos(lat[k]) * std::cos(lon[k]);
        mu[k][1] = std::cos(lat[k]) * std::sin(lon[k]);
        mu[k][2] = std::sin(lat[k]);
        e[k] = T(10) * (mu[k][0] * v[0] + mu[k][1] * v[1] + mu[k][2] * v[2]);
      }
      const T lse = log_sum_exp_weights(4, e);
      if (grad) {
        for (int j = 0; j < 3; ++j) {
          grad[j] = T(0);
          for (int k = 0; k < 4; ++k) grad[j] += T(10) * e[k] * mu[k][j];
        }
      }
      return lse;
    }
    case TargetKind::Sphere3Vmf4: {
      const T n[4][4] = {{T(1), T(0), T(0), T(0)},
                         {T(-0.2), T(0.9), T(0.3), T(-0.2)},
                         {T(0.1), T(-0.4), T(0.8), T(0.4)},
                         {T(-0.5), T(-0.3), T(-0.4), T(0.7)}};
      T nu[4][4], e[4];
      for (int k = 0; k < 4; ++k) {
        const T len = std::sqrt(n[k][0] * n[k][0] + n[k][1] * n[k][1] + n[k][2] * n[k][2] + n[k][3] * n[k][3]);
        e[k] = T(0);
        for (int j = 0; j < 4; ++j) {
          nu[k][j] = n[k][j] / len;
          e[k] += T(10) * nu[k][j] * v[j];
        }
      }
      const T lse = log_sum_exp_weights(4, e);
      if (grad) {
        for (int j = 0; j < 4; ++j) {
          grad[j] = T(0);
          for (int k = 0; k < 4; ++k) grad[j] += T(10) * e[k] * nu[k][j];
        }
      }
      return lse;
    }
  }
  return T(0);
}

}  // namespace manifold
}  // namespace sbi
