// CUDA launchers of the flows on Tᴰ and Sᴰ (ops manifold.flow_sample, manifold.flow_log_prob): one
// thread per row running flow.h's functions on a chunk of one row (R = 1), as the CPU runs them
// on chunks of 32 rows, in double. A row's result does not depend on its chunk: its base draw
// starts at Philox block row·coords, the conditioners' sums run over each row's inputs in order
// (dense.h), and every other step is elementwise. The FlowShape lives in device memory (it is
// ~15 KB, too large to pass by value); each thread owns a FlowWork area in device memory, and the
// number of threads is bounded so those areas take at most kFlowWorkBytes, each thread then
// taking rows t, t + threads, ….
#include "../common/cuda_util.cuh"
#include "flow.h"
#include "flow_launch.h"

namespace sbi {
namespace cuda {
namespace {

namespace mf = manifold;

constexpr int64_t kFlowWorkBytes = int64_t{512} << 20;

__global__ void __launch_bounds__(kThreadsPerBlock)
    manifold_flow_sample_kernel(const mf::FlowShape* shape, const double* params, int64_t n, uint64_t seed, uint64_t stream,
                                int64_t threads, double* work, int64_t work_size, double* x, double* logq) {
  const int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= threads) return;
  const mf::FlowShape& s = *shape;
  const int C = s.coords, W = mf::flow_output_width(s);
  mf::FlowWork<double> w = mf::flow_work_bind(s, 1, work + t * work_size);
  const double* fin = w.states + s.n_layers * C;
  for (int64_t i = t; i < n; i += threads) {
    mf::flow_base_draw(s, seed, stream, i, 1, w.states);
    mf::flow_forward(s, params, 1, w);
    mf::flow_state_to_point(s, fin, x + i * W);
    logq[i] = mf::flow_log_density(s, w.states, fin, -w.ladj[0]);
  }
}

__global__ void __launch_bounds__(kThreadsPerBlock)
    manifold_flow_log_prob_kernel(const mf::FlowShape* shape, const double* params, int64_t n, const double* x,
                                  int64_t threads, double* work, int64_t work_size, double* logq) {
  const int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= threads) return;
  const mf::FlowShape& s = *shape;
  const int C = s.coords, W = mf::flow_output_width(s);
  mf::FlowWork<double> w = mf::flow_work_bind(s, 1, work + t * work_size);
  double* fin = w.states + s.n_layers * C;
  for (int64_t i = t; i < n; i += threads) {
    mf::flow_point_to_state(s, x + i * W, fin);
    mf::flow_inverse(s, params, 1, w);
    logq[i] = mf::flow_log_density(s, w.states, fin, w.ladj[0]);
  }
}

// The device copies of the shape and parameters, the per-thread work areas and log q.
struct FlowRun {
  DeviceBuffer<mf::FlowShape> shape;
  DeviceBuffer<double> params, work, logq;
  int64_t threads = 0, work_size = 0;
  unsigned blocks = 0;

  Status prepare(const mf::FlowShape& s, const double* host_params, int64_t n) {
    work_size = mf::flow_work_size(s, 1);
    threads = kFlowWorkBytes / (static_cast<int64_t>(sizeof(double)) * work_size);
    threads = threads < 1 ? 1 : (threads > n ? n : threads);
    blocks = static_cast<unsigned>((threads + kThreadsPerBlock - 1) / kThreadsPerBlock);
    SBI_CUDA_TRY(shape.allocate(1, "shape"));
    SBI_CUDA_TRY(params.allocate(static_cast<size_t>(s.param_count), "params"));
    SBI_CUDA_TRY(work.allocate(static_cast<size_t>(threads * work_size), "working memory"));
    SBI_CUDA_TRY(logq.allocate(static_cast<size_t>(n), "logq"));
    SBI_CUDA_TRY(shape.upload(&s));
    return params.upload(host_params);
  }
};

}  // namespace

Status manifold_flow_sample(const mf::FlowShape& s, const double* params, int64_t n, uint64_t seed, uint64_t stream,
                            double* x, double* logq) {
  if (n <= 0) return Status{};
  FlowRun run;
  SBI_CUDA_TRY(run.prepare(s, params, n));
  DeviceBuffer<double> d_x;
  SBI_CUDA_TRY(d_x.allocate(static_cast<size_t>(n) * mf::flow_output_width(s), "x"));
  manifold_flow_sample_kernel<<<run.blocks, kThreadsPerBlock>>>(run.shape.get(), run.params.get(), n, seed, stream,
                                                                run.threads, run.work.get(), run.work_size, d_x.get(),
                                                                run.logq.get());
  SBI_CUDA_TRY(finish_launch("manifold_flow_sample_kernel"));
  SBI_CUDA_TRY(d_x.download(x));
  return run.logq.download(logq);
}

Status manifold_flow_log_prob(const mf::FlowShape& s, const double* params, int64_t n, const double* x, double* logq) {
  if (n <= 0) return Status{};
  FlowRun run;
  SBI_CUDA_TRY(run.prepare(s, params, n));
  DeviceBuffer<double> d_x;
  SBI_CUDA_TRY(d_x.allocate(static_cast<size_t>(n) * mf::flow_output_width(s), "x"));
  SBI_CUDA_TRY(d_x.upload(x));
  manifold_flow_log_prob_kernel<<<run.blocks, kThreadsPerBlock>>>(run.shape.get(), run.params.get(), n, d_x.get(),
                                                                  run.threads, run.work.get(), run.work_size,
                                                                  run.logq.get());
  SBI_CUDA_TRY(finish_launch("manifold_flow_log_prob_kernel"));
  return run.logq.download(logq);
}

}  // namespace cuda
}  // namespace sbi
