// CUDA launcher of the U(1) action (op lattice.u1_action): one thread per configuration calling
// u1.h's u1_action_grad and u1_topological_charge, the CPU's functions, in double; each thread's
// plaquettes [V] live in a device buffer.
#include "../common/cuda_util.cuh"
#include "lattice_launch.h"
#include "u1.h"

namespace sbi {
namespace cuda {
namespace {

__global__ void u1_action_kernel(U1Params<double> p, int64_t n, const double* theta, double* plaq, double* action,
                                 double* grad, double* charge) {
  const int64_t V = int64_t{p.L} * p.L, D = 2 * V;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    action[i] = u1_action_grad(p, theta + i * D, grad != nullptr ? grad + i * D : nullptr, plaq + i * V);
    if (charge != nullptr) charge[i] = u1_topological_charge(p.L, theta + i * D, plaq + i * V);
  }
}

}  // namespace

Status u1_action(const U1Params<double>& p, int64_t n, const double* theta, double* action, double* grad, double* charge) {
  if (n <= 0) return Status{};
  const size_t V = static_cast<size_t>(p.L) * p.L, links = static_cast<size_t>(n) * 2 * V;
  DeviceBuffer<double> d_theta, d_plaq, d_action, d_grad, d_charge;
  SBI_CUDA_TRY(d_theta.allocate(links, "theta"));
  SBI_CUDA_TRY(d_plaq.allocate(static_cast<size_t>(n) * V, "plaquettes"));
  SBI_CUDA_TRY(d_action.allocate(static_cast<size_t>(n), "action"));
  if (grad != nullptr) SBI_CUDA_TRY(d_grad.allocate(links, "grad"));
  if (charge != nullptr) SBI_CUDA_TRY(d_charge.allocate(static_cast<size_t>(n), "charge"));
  SBI_CUDA_TRY(d_theta.upload(theta));
  u1_action_kernel<<<grid_blocks(n), kThreadsPerBlock>>>(p, n, d_theta.get(), d_plaq.get(), d_action.get(), d_grad.get(),
                                                          d_charge.get());
  SBI_CUDA_TRY(finish_launch("u1_action_kernel"));
  SBI_CUDA_TRY(d_action.download(action));
  if (grad != nullptr) SBI_CUDA_TRY(d_grad.download(grad));
  if (charge != nullptr) SBI_CUDA_TRY(d_charge.download(charge));
  return Status{};
}

}  // namespace cuda
}  // namespace sbi
