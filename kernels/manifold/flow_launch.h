// Host entry points of the manifold-flow launchers (kernels/manifold/flow.cu), in double as the
// CPU's kernels. Plain C++ (flow.h's FlowShape and cuda_launch.h's Status), so the CUDA addon's
// N-API boundary needs no CUDA headers.
#pragma once
#include <cstdint>

#include "../common/cuda_launch.h"
#include "flow.h"

namespace sbi {
namespace cuda {

// n draws x [n·W] (W = flow_output_width) and their log q [n]: row i from Philox blocks i·coords
// on of (seed, stream), as native/manifold_flow.cc's manifoldFlowSample (flow_base_draw,
// flow_forward, flow_state_to_point, flow_log_density), one thread per row.
Status manifold_flow_sample(const manifold::FlowShape& s, const double* params, int64_t n, uint64_t seed, uint64_t stream,
                            double* x, double* logq);

// log q [n] of ambient points x [n·W], as native/manifold_flow.cc's manifoldFlowLogProb
// (flow_point_to_state, flow_inverse, flow_log_density: flow_nll_chunk's log q), one thread per row.
Status manifold_flow_log_prob(const manifold::FlowShape& s, const double* params, int64_t n, const double* x, double* logq);

}  // namespace cuda
}  // namespace sbi
