// CUDA launchers of the per-row simulators (one thread per row). The kernels are the CPU's
// (kernels/simulators/*.h), with the same Philox keying (row i: stream stream_offset + i) and
// the same settling of failed or non-finite rows (settle_sim_row) as native RunRows.
// gaussian_linear serves both gaussian_linear tasks (they differ only in the prior).
// sir and lotka_volterra run simulate_ode (one Dormand–Prince solve per thread), which the CPU's
// lockstep lanes (native/simulators/ode.cc) match bit for bit; slcp_distractors reads its noise
// mixture from the __device__ tables of data/slcp_distractors_noise.h (SBI_TABLE); weinberg's
// design variables (√s) are shared by all rows, as in the CPU's SimBatch.
#include "../common/cuda_util.cuh"
#include "bernoulli_glm.h"
#include "galton_board.h"
#include "gaussian_linear.h"
#include "gaussian_mixture.h"
#include "lotka_volterra.h"
#include "sir.h"
#include "slcp.h"
#include "slcp_distractors.h"
#include "two_moons.h"
#include "weinberg.h"

namespace sbi {
namespace cuda {
namespace {

using Kernel = bool (*)(const SimRow&, PhiloxStream&);

template <Kernel KERNEL>
__global__ void simulate_rows(const double* theta, const double* design, int theta_dim, int x_dim, int64_t n,
                              uint64_t seed, uint64_t stream_offset, float* x, uint8_t* failed) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    PhiloxStream rng(seed, stream_offset + static_cast<uint64_t>(i));
    SimRow row;
    row.theta = theta + i * theta_dim;
    row.theta_ref = nullptr;
    row.design = design;
    row.x = x + i * x_dim;
    row.joint_log_likelihood = nullptr;
    row.joint_score = nullptr;
    row.joint_log_ratio = nullptr;
    const bool ok = KERNEL(row, rng);
    failed[i] = settle_sim_row(row.x, x_dim, ok) ? 0 : 1;
  }
}

using Launch = void (*)(unsigned grid, const double*, const double*, int, int, int64_t, uint64_t, uint64_t, float*,
                        uint8_t*);

template <Kernel KERNEL>
void launch(unsigned grid, const double* theta, const double* design, int theta_dim, int x_dim, int64_t n,
            uint64_t seed, uint64_t stream_offset, float* x, uint8_t* failed) {
  simulate_rows<KERNEL><<<grid, kThreadsPerBlock>>>(theta, design, theta_dim, x_dim, n, seed, stream_offset, x, failed);
}

struct Entry {
  SimulatorInfo info;
  Launch launch;
};

// Names and dimensions as in native/simulators/{sbibm,ode,physics}.cc.
const Entry kSimulators[] = {
    {{"two_moons", 2, 2, 0}, launch<simulate_two_moons>},
    {{"gaussian_linear", 10, 10, 0}, launch<simulate_gaussian_linear>},
    {{"gaussian_mixture", 2, 2, 0}, launch<simulate_gaussian_mixture>},
    {{"slcp", 5, 8, 0}, launch<simulate_slcp>},
    {{"bernoulli_glm", 10, 10, 0}, launch<simulate_bernoulli_glm>},
    {{"bernoulli_glm_raw", 10, 100, 0}, launch<simulate_bernoulli_glm_raw>},
    {{"slcp_distractors", 5, 100, 0}, launch<simulate_slcp_distractors>},
    {{"sir", SirModel::kThetaDim, SirModel::kXDim, 0}, launch<simulate_sir>},
    {{"lotka_volterra", LotkaVolterraModel::kThetaDim, LotkaVolterraModel::kXDim, 0}, launch<simulate_lotka_volterra>},
    {{"galton_board", 1, 1, 0}, launch<simulate_galton_board>},
    {{"weinberg", 1, 1, 1}, launch<simulate_weinberg>},
};

}  // namespace

int simulator_count() { return static_cast<int>(sizeof kSimulators / sizeof kSimulators[0]); }
const SimulatorInfo& simulator_info(int id) { return kSimulators[id].info; }

Status simulate(int id, const double* theta, const double* design, int64_t n, uint64_t seed, uint64_t stream_offset,
                float* x, uint8_t* failed, int64_t* failed_rows) {
  *failed_rows = 0;
  if (n <= 0) return Status{};
  const Entry& e = kSimulators[id];
  DeviceBuffer<double> d_theta, d_design;
  DeviceBuffer<float> d_x;
  DeviceBuffer<uint8_t> d_failed;
  SBI_CUDA_TRY(d_theta.allocate(static_cast<size_t>(n * e.info.theta_dim), "theta"));
  SBI_CUDA_TRY(d_x.allocate(static_cast<size_t>(n * e.info.x_dim), "x"));
  SBI_CUDA_TRY(d_failed.allocate(static_cast<size_t>(n), "failed"));
  SBI_CUDA_TRY(d_theta.upload(theta));
  if (e.info.design_dim > 0) {
    SBI_CUDA_TRY(d_design.allocate(static_cast<size_t>(e.info.design_dim), "design"));
    SBI_CUDA_TRY(d_design.upload(design));
  }
  e.launch(grid_blocks(n), d_theta.get(), e.info.design_dim > 0 ? d_design.get() : nullptr, e.info.theta_dim, e.info.x_dim, n, seed, stream_offset, d_x.get(),
           d_failed.get());
  SBI_CUDA_TRY(finish_launch(e.info.name));
  SBI_CUDA_TRY(d_x.download(x));
  SBI_CUDA_TRY(d_failed.download(failed));
  for (int64_t i = 0; i < n; ++i) *failed_rows += failed[i];
  return Status{};
}

}  // namespace cuda
}  // namespace sbi
