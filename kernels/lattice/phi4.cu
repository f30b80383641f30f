// CUDA launcher of the φ⁴ action (op lattice.phi4_action): one thread per configuration calling
// phi4.h's phi4_action_grad (or phi4_action), the CPU's function, in double.
#include "../common/cuda_util.cuh"
#include "lattice_launch.h"
#include "phi4.h"

namespace sbi {
namespace cuda {
namespace {

__global__ void phi4_action_kernel(Phi4Params<double> p, int64_t n, const double* phi, double* action, double* grad) {
  const int64_t V = int64_t{p.L} * p.L;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step)
    action[i] = grad != nullptr ? phi4_action_grad(p, phi + i * V, grad + i * V) : phi4_action(p, phi + i * V);
}

}  // namespace

Status phi4_action(const Phi4Params<double>& p, int64_t n, const double* phi, double* action, double* grad) {
  if (n <= 0) return Status{};
  const size_t values = static_cast<size_t>(n) * p.L * p.L;
  DeviceBuffer<double> d_phi, d_action, d_grad;
  SBI_CUDA_TRY(d_phi.allocate(values, "phi"));
  SBI_CUDA_TRY(d_action.allocate(static_cast<size_t>(n), "action"));
  if (grad != nullptr) SBI_CUDA_TRY(d_grad.allocate(values, "grad"));
  SBI_CUDA_TRY(d_phi.upload(phi));
  phi4_action_kernel<<<grid_blocks(n), kThreadsPerBlock>>>(p, n, d_phi.get(), d_action.get(), d_grad.get());
  SBI_CUDA_TRY(finish_launch("phi4_action_kernel"));
  SBI_CUDA_TRY(d_action.download(action));
  if (grad != nullptr) SBI_CUDA_TRY(d_grad.download(grad));
  return Status{};
}

}  // namespace cuda
}  // namespace sbi
