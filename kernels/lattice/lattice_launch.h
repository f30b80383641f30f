// Host entry points of the lattice launchers (kernels/lattice/phi4.cu, u1.cu, and the flows'
// samplers and inverse passes in checkerboard_flow.cu, gauge_flow.cu), in double as the CPU's
// kernels. Plain C++ (the kernel headers and cuda_launch.h's Status), so the CUDA addon's N-API
// boundary needs no CUDA headers. Each copies its inputs to the device, runs one thread per
// configuration (per draw) over the portable functions the CPU runs, copies the outputs back and
// frees what it allocated.
#pragma once
#include <cstdint>

#include "../common/cuda_launch.h"
#include "flow_sampler.h"

namespace sbi {
namespace cuda {

// S(φ) [n] and, unless grad is null, ∂S/∂φ [n·V] of φ⁴ configurations φ [n·V], V = L·L
// (phi4_action_grad, or phi4_action without grad), as native/lattice_phi4.cc's phi4Action.
Status phi4_action(const Phi4Params<double>& p, int64_t n, const double* phi, double* action, double* grad);

// S(θ) [n], unless null ∂S/∂θ [n·2V] and the topological charge Q [n] of U(1) configurations
// θ [n·2V] (u1_action_grad, u1_topological_charge), as native/lattice_u1.cc's u1Action.
Status u1_action(const U1Params<double>& p, int64_t n, const double* theta, double* action, double* grad, double* charge);

// n draws of a lattice flow (lattice_flow_draw of flow_sampler.h), draw i from Philox stream
// offset + i of seed, as native/lattice_flow.cc's xxxFlowSample: log q [n], S [n], the
// observable [n] (φ⁴: M; U(1): Q) and, unless null, the configurations x [n·D].
struct LatticeFlowDraws {
  double* logq;
  double* action;
  double* observable;
  double* x;
};
Status phi4_flow_sample(const Phi4FlowKernel& m, const double* params, uint64_t seed, uint64_t offset, int64_t n,
                        bool symmetric, const LatticeFlowDraws& out);
Status u1_flow_sample(const U1FlowKernel& m, const double* params, uint64_t seed, uint64_t offset, int64_t n,
                      const LatticeFlowDraws& out);

// The inverse pass of a lattice flow over n given configurations x [n·D] (Model::Inverse:
// checkerboard_flow_inverse, gauge_flow_inverse), as native/lattice_flow.cc's xxxFlowInverse:
// z = f⁻¹(x) [n·D] and log q(x) [n].
struct LatticeFlowInverse {
  double* z;
  double* logq;
};
Status phi4_flow_inverse(const Phi4FlowKernel& m, const double* params, int64_t n, const double* phi,
                         const LatticeFlowInverse& out);
Status u1_flow_inverse(const U1FlowKernel& m, const double* params, int64_t n, const double* theta,
                       const LatticeFlowInverse& out);

}  // namespace cuda
}  // namespace sbi
