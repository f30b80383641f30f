// The lattice flows' sampler and inverse pass on the device, shared by checkerboard_flow.cu and
// gauge_flow.cu, in double: one thread per draw running flow_sampler.h's lattice_flow_draw (the CPU
// sampler's function), or one thread per given configuration running the model's Inverse
// (checkerboard_flow_inverse, gauge_flow_inverse: the CPU's xxxFlowInverse). Each thread owns a
// working area (tape and scratch, or scratch alone) in device memory; the number of threads is
// bounded so those areas take at most kLatticeFlowWorkBytes, and each thread then takes draws
// (configurations) t, t + threads, … (a result does not depend on which thread computes it).
#pragma once
#include "../common/cuda_util.cuh"
#include "flow_sampler.h"
#include "lattice_launch.h"

namespace sbi {
namespace cuda {

constexpr int64_t kLatticeFlowWorkBytes = int64_t{512} << 20;

template <class Model>
__global__ void __launch_bounds__(kThreadsPerBlock)
    lattice_flow_sample_kernel(Model m, const double* params, uint64_t seed, uint64_t offset, int64_t n, bool symmetric,
                               int64_t threads, double* work, int64_t work_size, double* logq, double* action,
                               double* observable, double* x) {
  const int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= threads) return;
  const int D = m.size();
  double* w = work + t * work_size;
  for (int64_t i = t; i < n; i += threads) {
    const double* xi = lattice_flow_draw(m, params, seed, offset + static_cast<uint64_t>(i), symmetric, w, &logq[i],
                                         &action[i], &observable[i]);
    if (x != nullptr)
      for (int k = 0; k < D; ++k) x[i * D + k] = xi[k];
  }
}

template <class Model>
Status lattice_flow_sample(const Model& m, const double* params, uint64_t seed, uint64_t offset, int64_t n,
                           bool symmetric, const LatticeFlowDraws& out, const char* kernel) {
  if (n <= 0) return Status{};
  const int64_t work_size = lattice_flow_draw_size(m, symmetric);
  int64_t threads = kLatticeFlowWorkBytes / (static_cast<int64_t>(sizeof(double)) * work_size);
  threads = threads < 1 ? 1 : (threads > n ? n : threads);
  DeviceBuffer<double> d_params, d_work, d_logq, d_action, d_observable, d_x;
  SBI_CUDA_TRY(d_params.allocate(static_cast<size_t>(m.param_count()), "params"));
  SBI_CUDA_TRY(d_work.allocate(static_cast<size_t>(threads * work_size), "working memory"));
  SBI_CUDA_TRY(d_logq.allocate(static_cast<size_t>(n), "logq"));
  SBI_CUDA_TRY(d_action.allocate(static_cast<size_t>(n), "action"));
  SBI_CUDA_TRY(d_observable.allocate(static_cast<size_t>(n), "observable"));
  if (out.x != nullptr) SBI_CUDA_TRY(d_x.allocate(static_cast<size_t>(n) * m.size(), "x"));
  SBI_CUDA_TRY(d_params.upload(params));
  const unsigned blocks = static_cast<unsigned>((threads + kThreadsPerBlock - 1) / kThreadsPerBlock);
  lattice_flow_sample_kernel<Model><<<blocks, kThreadsPerBlock>>>(m, d_params.get(), seed, offset, n, symmetric, threads,
                                                                  d_work.get(), work_size, d_logq.get(), d_action.get(),
                                                                  d_observable.get(), d_x.get());
  SBI_CUDA_TRY(finish_launch(kernel));
  SBI_CUDA_TRY(d_logq.download(out.logq));
  SBI_CUDA_TRY(d_action.download(out.action));
  SBI_CUDA_TRY(d_observable.download(out.observable));
  if (out.x != nullptr) SBI_CUDA_TRY(d_x.download(out.x));
  return Status{};
}

// The inverse pass: z = f⁻¹(x) and log q(x) of configuration i, by thread t for i = t, t + threads, …
// (Model::Inverse, as native/lattice_flow.cc's FlowTransform<Model, true>). work [threads·work_size].
template <class Model>
__global__ void __launch_bounds__(kThreadsPerBlock)
    lattice_flow_inverse_kernel(Model m, const double* params, const double* x, int64_t n, int64_t threads, double* work,
                                int64_t work_size, double* z, double* logq) {
  const int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= threads) return;
  const int64_t D = m.size();
  double* scratch = work + t * work_size;
  for (int64_t i = t; i < n; i += threads) logq[i] = m.Inverse(params, x + i * D, z + i * D, scratch);
}

template <class Model>
Status lattice_flow_inverse(const Model& m, const double* params, int64_t n, const double* x, const LatticeFlowInverse& out,
                            const char* kernel) {
  if (n <= 0) return Status{};
  const int64_t work_size = m.scratch_size();
  int64_t threads = kLatticeFlowWorkBytes / (static_cast<int64_t>(sizeof(double)) * work_size);
  threads = threads < 1 ? 1 : (threads > n ? n : threads);
  const size_t values = static_cast<size_t>(n) * static_cast<size_t>(m.size());
  DeviceBuffer<double> d_params, d_x, d_work, d_z, d_logq;
  SBI_CUDA_TRY(d_params.allocate(static_cast<size_t>(m.param_count()), "params"));
  SBI_CUDA_TRY(d_x.allocate(values, "x"));
  SBI_CUDA_TRY(d_work.allocate(static_cast<size_t>(threads * work_size), "working memory"));
  SBI_CUDA_TRY(d_z.allocate(values, "z"));
  SBI_CUDA_TRY(d_logq.allocate(static_cast<size_t>(n), "logq"));
  SBI_CUDA_TRY(d_params.upload(params));
  SBI_CUDA_TRY(d_x.upload(x));
  const unsigned blocks = static_cast<unsigned>((threads + kThreadsPerBlock - 1) / kThreadsPerBlock);
  lattice_flow_inverse_kernel<Model><<<blocks, kThreadsPerBlock>>>(m, d_params.get(), d_x.get(), n, threads, d_work.get(),
                                                                   work_size, d_z.get(), d_logq.get());
  SBI_CUDA_TRY(finish_launch(kernel));
  SBI_CUDA_TRY(d_z.download(out.z));
  SBI_CUDA_TRY(d_logq.download(out.logq));
  return Status{};
}

}  // namespace cuda
}  // namespace sbi
