// Compact U(1) gauge theory on an L×L periodic lattice (issue 5; Kanwar et al., "Equivariant
// flow-based sampling for lattice gauge theory", PRL 125, 2020, arXiv:2003.06413).
// Links U_μ(x) = e^{iθ_μ(x)}, θ stored [2][L][L]: θ_μ(x₀, x₁) at index μ·V + x₀·L + x₁, V = L².
// Plaquette angle P(x) = θ₀(x) + θ₁(x + ê₀) − θ₀(x + ê₁) − θ₁(x), Wilson action
//   S(θ) = −β Σ_x cos P(x),
//   ∂S/∂θ₀(x) = β [sin P(x) − sin P(x − ê₁)],   ∂S/∂θ₁(x) = β [sin P(x − ê₀) − sin P(x)]
// (θ₀(x) enters P(x) with +1 and P(x − ê₁) with −1; θ₁(x) enters P(x − ê₀) with +1 and P(x) with −1).
// Topological charge (geometric definition) Q = (1/2π) Σ_x wrap(P(x)), wrap into [−π, π): an
// integer on the torus, because every link enters the sum of the unwrapped P twice with
// opposite signs. Gauge transformations θ_μ(x) → θ_μ(x) + α(x) − α(x + μ̂) leave every P(x),
// so S and Q, unchanged.
#pragma once
#include "../common/portable.h"

namespace sbi {

template <class T>
struct U1Params {
  int L;
  T beta;
};

// P(x) of one configuration [2·V] into plaq [V].
template <class T>
SBI_HD void u1_plaquettes(int L, const T* theta, T* plaq) {
  const int V = L * L;
  const T* t0 = theta;
  const T* t1 = theta + V;
  for (int x0 = 0; x0 < L; ++x0) {
    const int x0n = x0 + 1 == L ? 0 : x0 + 1;
    for (int x1 = 0; x1 < L; ++x1) {
      const int x1n = x1 + 1 == L ? 0 : x1 + 1;
      plaq[x0 * L + x1] = t0[x0 * L + x1] + t1[x0n * L + x1] - t0[x0 * L + x1n] - t1[x0 * L + x1];
    }
  }
}

// Angle wrapped into [−π, π).
template <class T>
SBI_HD T u1_wrap(T a) {
  return a - T(kTwoPi) * floor((a + T(kPi)) / T(kTwoPi));
}

// S(θ); with grad != nullptr also ∂S/∂θ [2·V]. `plaq` is scratch [V].
template <class T>
SBI_HD T u1_action_grad(const U1Params<T>& p, const T* theta, T* grad, T* plaq) {
  const int L = p.L, V = L * L;
  u1_plaquettes(L, theta, plaq);
  T s = T(0);
  for (int i = 0; i < V; ++i) s -= cos(plaq[i]);
  if (grad != nullptr) {
    for (int x0 = 0; x0 < L; ++x0) {
      const int x0p = x0 == 0 ? L - 1 : x0 - 1;
      for (int x1 = 0; x1 < L; ++x1) {
        const int x1p = x1 == 0 ? L - 1 : x1 - 1;
        const T here = sin(plaq[x0 * L + x1]);
        grad[x0 * L + x1] = p.beta * (here - sin(plaq[x0 * L + x1p]));
        grad[V + x0 * L + x1] = p.beta * (sin(plaq[x0p * L + x1]) - here);
      }
    }
  }
  return p.beta * s;
}

// Q = (1/2π) Σ_x wrap(P(x)), rounded to the integer it equals up to round-off. `plaq` is scratch [V].
template <class T>
SBI_HD T u1_topological_charge(int L, const T* theta, T* plaq) {
  u1_plaquettes(L, theta, plaq);
  T q = T(0);
  for (int i = 0; i < L * L; ++i) q += u1_wrap(plaq[i]);
  return round(q / T(kTwoPi)) + T(0);  // + 0: no −0 for a charge of zero
}

// The HMC model of kernels/lattice/hmc.h: all 2V link angles, observable Q. `plaq` is scratch [V].
struct U1Model {
  U1Params<double> p;
  double* plaq;
  SBI_HD int size() const { return 2 * p.L * p.L; }
  SBI_HD double action_grad(const double* theta, double* grad) const { return u1_action_grad(p, theta, grad, plaq); }
  SBI_HD double observable(const double* theta) const { return u1_topological_charge(p.L, theta, plaq); }
};

}  // namespace sbi
