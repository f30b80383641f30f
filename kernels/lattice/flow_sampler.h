// The lattice flows as their sampler and reverse-KL trainer see them, and one draw of the
// sampler: shared by the CPU (native/lattice_flow.cc, which adds the N-API parsing and the
// initialisation) and the CUDA launchers (kernels/lattice/checkerboard_flow.cu, gauge_flow.cu,
// one thread per draw), so a draw is defined once.
//
// A flow model has D = size() values per configuration (prior draw z and output x alike):
//   Draw(seed, stream, z)            z [D] from Philox stream `stream` of `seed` (z has D + 1 room)
//   Forward(params, z, tape, scratch) -> log q(x), x = f(z) at the end of tape [tape_size()]
//   Inverse(params, x, z, scratch)   -> log q(x), z = f⁻¹(x)
//   Backward(...)                    the tape's gradient (training)
//   Action / ActionGrad / Observable S(x), ∂S/∂x, and the recorded observable (φ⁴: M; U(1): Q)
//   kReflectable, Reflect(x, out)    the target's symmetry x → −x (φ⁴ only)
// scratch holds scratch_size() doubles (≥ D + 1).
#pragma once
#include "../common/portable.h"
#include "../random/samplers.h"
#include "checkerboard_flow.h"
#include "gauge_flow.h"
#include "phi4.h"
#include "u1.h"

namespace sbi {

// The φ⁴ checkerboard flow (checkerboard_flow.h) with the φ⁴ action (phi4.h): z ~ N(0, 1) per site.
struct Phi4FlowKernel {
  CheckerboardFlowShape s{};
  Phi4Params<double> p{};

  SBI_HD int size() const { return cbf_sites(s); }
  SBI_HD int64_t param_count() const { return cbf_param_count(s); }
  SBI_HD int64_t tape_size() const { return cbf_tape_size(s); }
  SBI_HD int64_t scratch_size() const { return cbf_scratch_size(s) + 1; }  // + 1: the draw's spare normal
  // z [D] of one draw from `stream` (sample_std_normal_fill needs an even count: z has D + 1 room).
  SBI_HD void Draw(uint64_t seed, uint64_t stream, double* z) const {
    PhiloxStream rng(seed, stream);
    sample_std_normal_fill(rng, z, size() + (size() & 1));
  }
  SBI_HD double Forward(const double* params, const double* z, double* tape, double* scratch) const {
    return checkerboard_flow_forward(s, params, z, tape, scratch);
  }
  SBI_HD double Inverse(const double* params, const double* x, double* z, double* scratch) const {
    return checkerboard_flow_inverse(s, params, x, z, scratch);
  }
  SBI_HD void Backward(const double* params, const double* tape, const double* g_x, double g_logq, double* grad,
                       double* g_z, double* scratch) const {
    checkerboard_flow_backward(s, params, tape, g_x, g_logq, grad, g_z, scratch);
  }
  SBI_HD double Action(const double* x, double* /*scratch*/) const { return phi4_action(p, x); }
  SBI_HD double ActionGrad(const double* x, double* g, double* /*scratch*/) const { return phi4_action_grad(p, x, g); }
  SBI_HD double Observable(const double* x, double* /*scratch*/) const { return phi4_magnetization(s.L, x); }
  // The action's Z2 symmetry φ → −φ (for the symmetrised proposal).
  static constexpr bool kReflectable = true;
  SBI_HD void Reflect(const double* x, double* out) const {
    for (int i = 0; i < size(); ++i) out[i] = -x[i];
  }
};

// The gauge-equivariant U(1) flow (gauge_flow.h) with the Wilson action (u1.h): Haar-uniform links.
struct U1FlowKernel {
  GaugeFlowShape s{};
  U1Params<double> p{};

  SBI_HD int size() const { return gf_links(s); }
  SBI_HD int64_t param_count() const { return gf_param_count(s); }
  SBI_HD int64_t tape_size() const { return gf_tape_size(s); }
  SBI_HD int64_t scratch_size() const { return gf_scratch_size(s); }
  // Haar-uniform links in [0, 2π).
  SBI_HD void Draw(uint64_t seed, uint64_t stream, double* z) const {
    PhiloxStream rng(seed, stream);
    for (int i = 0; i < size(); ++i) z[i] = kTwoPi * rng.uniform();
  }
  SBI_HD double Forward(const double* params, const double* z, double* tape, double* /*scratch*/) const {
    return gauge_flow_forward(s, params, z, tape);
  }
  SBI_HD double Inverse(const double* params, const double* x, double* z, double* scratch) const {
    return gauge_flow_inverse(s, params, x, z, scratch);
  }
  SBI_HD void Backward(const double* params, const double* tape, const double* g_x, double g_logq, double* grad,
                       double* g_z, double* scratch) const {
    gauge_flow_backward(s, params, tape, g_x, g_logq, grad, g_z, scratch);
  }
  SBI_HD double Action(const double* x, double* scratch) const {
    return u1_action_grad(p, x, static_cast<double*>(nullptr), scratch);
  }
  SBI_HD double ActionGrad(const double* x, double* g, double* scratch) const { return u1_action_grad(p, x, g, scratch); }
  SBI_HD double Observable(const double* x, double* scratch) const { return u1_topological_charge(s.L, x, scratch); }
  static constexpr bool kReflectable = false;
  SBI_HD void Reflect(const double* /*x*/, double* /*out*/) const {}
};

constexpr uint64_t kLatticeFlipBlock = uint64_t{1} << 63;  // the draw stream's block of the sign flip

// Working memory of one draw, in doubles: the tape, the scratch and (symmetric) −x and its z.
template <class Model>
SBI_HD int64_t lattice_flow_draw_size(const Model& m, bool symmetric) {
  const int64_t scratch = m.scratch_size() > m.size() + 1 ? m.scratch_size() : m.size() + 1;
  return m.tape_size() + scratch + (symmetric ? 2 * int64_t{m.size()} : 0);
}

// Draw `stream` of `seed`: z from the stream, x = f(z), log q(x), S(x) and the observable; x is
// left at the end of the tape (returned). `symmetric` (Model::kReflectable only): the
// Z2-symmetrised proposal q_s(x) = ½(q(x) + q(−x)) instead: log q(−x) by the inverse pass,
// log q_s = log ½(e^{log q(x)} + e^{log q(−x)}), and x flipped to −x when the uniform from block
// 2⁶³ of the stream is below ½. work [lattice_flow_draw_size(m, symmetric)].
template <class Model>
SBI_HD const double* lattice_flow_draw(const Model& m, const double* params, uint64_t seed, uint64_t stream, bool symmetric,
                                       double* work, double* logq, double* action, double* observable) {
  const int D = m.size();
  const int64_t scratch_size = m.scratch_size() > D + 1 ? m.scratch_size() : D + 1;
  double* tape = work;
  double* scratch = tape + m.tape_size();
  double* reflected = scratch + scratch_size;
  double* z = reflected + D;
  double* x = tape + m.tape_size() - D;
  m.Draw(seed, stream, scratch);
  for (int i = 0; i < D; ++i) tape[i] = scratch[i];
  double lq = m.Forward(params, tape, tape, scratch);
  if (symmetric && Model::kReflectable) {
    m.Reflect(x, reflected);
    const double a = lq, r = m.Inverse(params, reflected, z, scratch);
    lq = (a < r ? r : a) + std::log1p(std::exp(-std::fabs(a - r))) - std::log(2.0);
    if (PhiloxStream(seed, stream, kLatticeFlipBlock).uniform() < 0.5)
      for (int i = 0; i < D; ++i) x[i] = reflected[i];
  }
  *logq = lq;
  *action = m.Action(x, scratch);
  *observable = m.Observable(x, scratch);
  return x;
}

}  // namespace sbi
