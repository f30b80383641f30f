// Hybrid Monte Carlo for a lattice model with real-valued degrees of freedom (Duane, Kennedy,
// Pendleton, Roweth, Phys. Lett. B 195, 1987): H = ½ Σ p² + S(q), leapfrog with
// `leapfrog_steps` steps of size ε·(1 + j·(2u − 1)), u uniform per trajectory, Metropolis accept
// on ΔH. The jitter j matters: with a fixed trajectory length τ a Fourier mode of frequency ω
// with ωτ near a multiple of π barely moves (Mackenzie, "An improper beat in Monte Carlo",
// Phys. Lett. B 226, 1989).
// One trajectory draws its momenta, its jitter uniform and its accept uniform, in this order,
// from one Philox stream; the caller picks the stream (chain c, trajectory t: c·2³² + t), so a
// chain is reproducible from (seed, chain, step) alone, for any thread count or chunking.
//
// A Model provides (all in double precision):
//   int size() const                                  degrees of freedom D
//   double action_grad(const double* q, double* g) const   S(q), g = ∂S/∂q
//   double observable(const double* q) const           recorded after each trajectory
#pragma once
#include "../common/portable.h"
#include "../random/samplers.h"

namespace sbi {

struct HmcConfig {
  int leapfrog_steps;
  double step_size;
  double step_jitter;  // in [0, 1)
};

// Per-trajectory record of a chain.
struct HmcRecord {
  double action;      // S after the accept/reject step
  double observable;  // the model's observable after it
  double delta_h;     // H(proposal) − H(current)
  bool accepted;
};

// Doubles of scratch one chain needs: momenta, proposal, gradient, normals (an even count).
SBI_HD int hmc_scratch(int size) { return 4 * size + 1; }

// One trajectory from q (updated in place on acceptance).
template <class Model>
SBI_HD HmcRecord hmc_trajectory(const Model& model, const HmcConfig& cfg, uint64_t seed, uint64_t stream, double* field,
                                double* scratch) {
  const int D = model.size();
  double* mom = scratch;
  double* q = scratch + D;
  double* g = scratch + 2 * D;
  double* z = scratch + 3 * D;
  PhiloxStream rng(seed, stream);
  sample_std_normal_fill(rng, z, D + (D & 1));  // takes an even count
  double kinetic0 = 0.0;
  for (int i = 0; i < D; ++i) {
    mom[i] = z[i];
    kinetic0 += mom[i] * mom[i];
    q[i] = field[i];
  }
  const double s0 = model.action_grad(q, g);
  const double eps = cfg.step_size * (1.0 + cfg.step_jitter * (2.0 * rng.uniform() - 1.0));
  for (int i = 0; i < D; ++i) mom[i] -= 0.5 * eps * g[i];
  double s1 = s0;
  for (int k = 0; k < cfg.leapfrog_steps; ++k) {
    for (int i = 0; i < D; ++i) q[i] += eps * mom[i];
    s1 = model.action_grad(q, g);
    const double h = k + 1 == cfg.leapfrog_steps ? 0.5 * eps : eps;
    for (int i = 0; i < D; ++i) mom[i] -= h * g[i];
  }
  double kinetic1 = 0.0;
  for (int i = 0; i < D; ++i) kinetic1 += mom[i] * mom[i];
  const double dh = (s1 + 0.5 * kinetic1) - (s0 + 0.5 * kinetic0);
  const double u = rng.uniform();
  // Accept with probability min(1, e^{−ΔH}); a non-finite ΔH (diverged trajectory) is rejected.
  const bool finite = dh - dh == 0.0;
  const bool accept = finite && (dh <= 0.0 || vlog(u) < -dh);
  HmcRecord r;
  r.delta_h = dh;
  r.accepted = accept;
  if (accept)
    for (int i = 0; i < D; ++i) field[i] = q[i];
  r.action = accept ? s1 : s0;
  r.observable = model.observable(field);
  return r;
}

}  // namespace sbi
