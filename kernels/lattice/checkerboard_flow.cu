// CUDA launchers of the φ⁴ checkerboard flow: its sampler (op lattice.phi4_flow_sample), one
// thread per draw, flow_sampler.h's lattice_flow_draw over checkerboard_flow.h and phi4.h (the
// CPU's functions, in double), the symmetrised proposal included; and its inverse pass (op
// lattice.phi4_flow_log_prob), one thread per configuration, checkerboard_flow_inverse.
#include "flow_sampler.cuh"

namespace sbi {
namespace cuda {

Status phi4_flow_sample(const Phi4FlowKernel& m, const double* params, uint64_t seed, uint64_t offset, int64_t n,
                        bool symmetric, const LatticeFlowDraws& out) {
  return lattice_flow_sample(m, params, seed, offset, n, symmetric, out, "lattice_flow_sample_kernel<Phi4FlowKernel>");
}

Status phi4_flow_inverse(const Phi4FlowKernel& m, const double* params, int64_t n, const double* phi,
                         const LatticeFlowInverse& out) {
  return lattice_flow_inverse(m, params, n, phi, out, "lattice_flow_inverse_kernel<Phi4FlowKernel>");
}

}  // namespace cuda
}  // namespace sbi
