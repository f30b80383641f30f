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
// HMC (Duane, Kennedy, Pendleton, Roweth, Phys. Lett. B 195, 1987): H = ½ Σ p² + S(φ),
// leapfrog with `leapfrog_steps` steps of size ε·(1 + j·(2u − 1)), u uniform per trajectory,
// Metropolis accept on ΔH. The jitter j matters: with a fixed trajectory length τ a Fourier
// mode of frequency ω with ωτ near a multiple of π barely moves (Mackenzie, "An improper beat
// in Monte Carlo", Phys. Lett. B 226, 1989) — on the free 4×4 lattice with m² = 0.5, τ = 1 the
// p = (π, 0) mode has ωτ = 3 and the unjittered chain's propagator is off by many σ.
// Trajectory t of chain c draws its momenta, its jitter uniform and its accept uniform, in this
// order, from Philox stream (c · 2³² + t) of `seed`, so a chain is reproducible from
// (seed, chain, step) alone, for any thread count or chunking of the steps.
#pragma once
#include "../common/portable.h"
#include "../random/samplers.h"

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

struct HmcConfig {
  int leapfrog_steps;
  double step_size;
  double step_jitter;  // in [0, 1)
};

// Per-trajectory record of a chain.
struct HmcRecord {
  double action;         // S after the accept/reject step
  double magnetization;  // M after it
  double delta_h;        // H(proposal) − H(current)
  bool accepted;
};

// Doubles of scratch one chain needs: momenta, proposal, gradient, normals (an even count).
SBI_HD int phi4_hmc_scratch(int L) { return 4 * L * L + 1; }

// One HMC trajectory from phi (updated in place on acceptance). `stream` is c·2³² + t.
SBI_HD HmcRecord phi4_hmc_step(const Phi4Params<double>& p, const HmcConfig& cfg, uint64_t seed, uint64_t stream,
                               double* phi, double* scratch) {
  const int V = p.L * p.L;
  double* mom = scratch;
  double* q = scratch + V;
  double* g = scratch + 2 * V;
  double* z = scratch + 3 * V;
  PhiloxStream rng(seed, stream);
  const int even = V + (V & 1);  // sample_std_normal_fill takes an even count
  sample_std_normal_fill(rng, z, even);
  double kinetic0 = 0.0;
  for (int i = 0; i < V; ++i) {
    mom[i] = z[i];
    kinetic0 += mom[i] * mom[i];
    q[i] = phi[i];
  }
  const double s0 = phi4_action_grad(p, q, g);
  const double eps = cfg.step_size * (1.0 + cfg.step_jitter * (2.0 * rng.uniform() - 1.0));
  for (int i = 0; i < V; ++i) mom[i] -= 0.5 * eps * g[i];
  double s1 = s0;
  for (int k = 0; k < cfg.leapfrog_steps; ++k) {
    for (int i = 0; i < V; ++i) q[i] += eps * mom[i];
    s1 = phi4_action_grad(p, q, g);
    const double h = k + 1 == cfg.leapfrog_steps ? 0.5 * eps : eps;
    for (int i = 0; i < V; ++i) mom[i] -= h * g[i];
  }
  double kinetic1 = 0.0;
  for (int i = 0; i < V; ++i) kinetic1 += mom[i] * mom[i];
  const double dh = (s1 + 0.5 * kinetic1) - (s0 + 0.5 * kinetic0);
  const double u = rng.uniform();
  // Accept with probability min(1, e^{−ΔH}); a non-finite ΔH (diverged trajectory) is rejected.
  const bool finite = dh - dh == 0.0;
  const bool accept = finite && (dh <= 0.0 || vlog(u) < -dh);
  HmcRecord r;
  r.delta_h = dh;
  r.accepted = accept;
  if (accept)
    for (int i = 0; i < V; ++i) phi[i] = q[i];
  r.action = accept ? s1 : s0;
  r.magnetization = phi4_magnetization(p.L, phi);
  return r;
}

}  // namespace sbi
