// CUDA launchers of the conditional MAF / NSF ops (flow.maf_log_prob, flow.maf_sample) in float:
// one thread per row runs maf.h's maf_log_prob / maf_sample on that row alone (n = 1) in its own
// workspace slice, with the affine or rational-quadratic spline element. Each row's arithmetic is
// the CPU's: the MADEs' dense layers sum every output in the CPU's order (dense.h's gemm: one
// running sum over the inputs, from 0) and nvcc compiles without fused multiply-adds, so a row's
// log q and draw do not depend on how the rows are batched. Sampling takes row i's base normals
// from Philox stream i of the seed (maf_sample_base), as native/maf.cc does. A first, correct
// version: the MADE weights are read from global memory by every thread, not tiled.
#include "../common/cuda_launch_flows.h"
#include "../common/cuda_rows.cuh"
#include "maf.h"

namespace sbi {
namespace cuda {
namespace {

template <class E>
__global__ void maf_log_prob_kernel(MafShape s, E e, int64_t first, int64_t rows, const float* params,
                                    const float* theta, const float* ctx, int64_t ctx_stride, float* log_prob,
                                    float* work, int64_t work_per_row) {
  const int64_t D = s.made.dim;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < rows; i += step) {
    const int64_t r = first + i;
    maf_log_prob(s, e, int64_t{1}, params, theta + r * D, ctx == nullptr ? ctx : ctx + r * ctx_stride, ctx_stride,
                 log_prob + r, static_cast<float*>(nullptr), work + i * work_per_row);
  }
}

// The row's base point u [D] sits after its maf_workspace_size(s, 1) workspace values.
template <class E>
__global__ void maf_sample_kernel(MafShape s, E e, int64_t first, int64_t rows, const float* params, const float* ctx,
                                  int64_t ctx_stride, uint64_t seed, float* theta, float* log_prob, float* work,
                                  int64_t work_per_row) {
  const int64_t D = s.made.dim;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < rows; i += step) {
    const int64_t r = first + i;
    float* w = work + i * work_per_row;
    float* u = w + maf_workspace_size(s, 1);
    maf_sample_base(seed, r, int64_t{1}, s.made.dim, u);
    maf_sample(s, e, int64_t{1}, params, ctx == nullptr ? ctx : ctx + r * ctx_stride, ctx_stride, u, theta + r * D,
               log_prob + r, w);
  }
}

// The device copies of one call's parameters and context.
struct MafInputs {
  DeviceBuffer<float> params, ctx;
  Status upload(const MafShape& s, int64_t n, const float* p, const float* c, int64_t ctx_stride) {
    SBI_CUDA_TRY(upload_copy(params, p, maf_param_count(s), "params"));
    const int64_t C = s.made.context;
    return upload_copy(ctx, c, C == 0 || c == nullptr ? 0 : (ctx_stride == 0 ? C : n * C), "x");
  }
  const float* context() const { return ctx.get(); }
};

template <class E>
Status run_log_prob(const MafShape& s, const E& e, int64_t n, const float* params, const float* theta,
                    const float* ctx, int64_t ctx_stride, float* log_prob) {
  const int64_t D = s.made.dim, per_row = maf_workspace_size(s, 1);
  const int64_t chunk = rows_per_launch(n, per_row);
  MafInputs in;
  DeviceBuffer<float> d_theta, d_log_prob, d_work;
  SBI_CUDA_TRY(in.upload(s, n, params, ctx, ctx_stride));
  SBI_CUDA_TRY(upload_copy(d_theta, theta, n * D, "theta"));
  SBI_CUDA_TRY(d_log_prob.allocate(static_cast<size_t>(n), "logProb"));
  SBI_CUDA_TRY(d_work.allocate(static_cast<size_t>(chunk * per_row), "MAF workspace"));
  const float* c = ctx == nullptr || s.made.context == 0 ? nullptr : in.context();
  for (int64_t first = 0; first < n; first += chunk) {
    const int64_t rows = n - first < chunk ? n - first : chunk;
    maf_log_prob_kernel<E><<<grid_blocks(rows), kThreadsPerBlock>>>(s, e, first, rows, in.params.get(), d_theta.get(),
                                                                     c, ctx_stride, d_log_prob.get(), d_work.get(),
                                                                     per_row);
    SBI_CUDA_TRY(finish_launch("maf_log_prob_kernel"));
  }
  return d_log_prob.download(log_prob);
}

template <class E>
Status run_sample(const MafShape& s, const E& e, int64_t n, const float* params, const float* ctx, int64_t ctx_stride,
                  uint64_t seed, float* theta, float* log_prob) {
  const int64_t D = s.made.dim, per_row = maf_workspace_size(s, 1) + D;
  const int64_t chunk = rows_per_launch(n, per_row);
  MafInputs in;
  DeviceBuffer<float> d_theta, d_log_prob, d_work;
  SBI_CUDA_TRY(in.upload(s, n, params, ctx, ctx_stride));
  SBI_CUDA_TRY(d_theta.allocate(static_cast<size_t>(n * D), "theta"));
  SBI_CUDA_TRY(d_log_prob.allocate(static_cast<size_t>(n), "logProb"));
  SBI_CUDA_TRY(d_work.allocate(static_cast<size_t>(chunk * per_row), "MAF workspace"));
  const float* c = ctx == nullptr || s.made.context == 0 ? nullptr : in.context();
  for (int64_t first = 0; first < n; first += chunk) {
    const int64_t rows = n - first < chunk ? n - first : chunk;
    maf_sample_kernel<E><<<grid_blocks(rows), kThreadsPerBlock>>>(s, e, first, rows, in.params.get(), c, ctx_stride,
                                                                   seed, d_theta.get(), d_log_prob.get(), d_work.get(),
                                                                   per_row);
    SBI_CUDA_TRY(finish_launch("maf_sample_kernel"));
  }
  SBI_CUDA_TRY(d_theta.download(theta));
  return d_log_prob.download(log_prob);
}

Status check_rows(int64_t n) {
  Status s;
  if (n < 1) {
    s.code = static_cast<int>(cudaErrorInvalidValue);
    s.message = "maf: expected at least one row";
  }
  return s;
}

}  // namespace

Status maf_log_prob(const MafShape& s, const MafElementSpec& e, int64_t n, const float* params, const float* theta,
                    const float* ctx, int64_t ctx_stride, float* log_prob) {
  SBI_CUDA_TRY(check_rows(n));
  if (e.spline)
    return run_log_prob(s, RqSplineElement<float>{e.spline_config}, n, params, theta, ctx, ctx_stride, log_prob);
  return run_log_prob(s, AffineElement<float>{e.scale_bound}, n, params, theta, ctx, ctx_stride, log_prob);
}

Status maf_sample(const MafShape& s, const MafElementSpec& e, int64_t n, const float* params, const float* ctx,
                  int64_t ctx_stride, uint64_t seed, float* theta, float* log_prob) {
  SBI_CUDA_TRY(check_rows(n));
  if (e.spline)
    return run_sample(s, RqSplineElement<float>{e.spline_config}, n, params, ctx, ctx_stride, seed, theta, log_prob);
  return run_sample(s, AffineElement<float>{e.scale_bound}, n, params, ctx, ctx_stride, seed, theta, log_prob);
}

}  // namespace cuda
}  // namespace sbi
