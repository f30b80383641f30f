// CUDA launchers of the gauge-equivariant U(1) flow: its sampler (op lattice.u1_flow_sample), one
// thread per draw, flow_sampler.h's lattice_flow_draw over gauge_flow.h (circle.h's NCP mixture)
// and u1.h (the CPU's functions, in double); and its inverse pass (op lattice.u1_flow_log_prob),
// one thread per configuration, gauge_flow_inverse (Newton on the NCP mixtures).
#include "flow_sampler.cuh"

namespace sbi {
namespace cuda {

Status u1_flow_sample(const U1FlowKernel& m, const double* params, uint64_t seed, uint64_t offset, int64_t n,
                      const LatticeFlowDraws& out) {
  return lattice_flow_sample(m, params, seed, offset, n, false, out, "lattice_flow_sample_kernel<U1FlowKernel>");
}

Status u1_flow_inverse(const U1FlowKernel& m, const double* params, int64_t n, const double* theta,
                       const LatticeFlowInverse& out) {
  return lattice_flow_inverse(m, params, n, theta, out, "lattice_flow_inverse_kernel<U1FlowKernel>");
}

}  // namespace cuda
}  // namespace sbi
