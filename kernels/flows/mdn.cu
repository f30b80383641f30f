// CUDA launchers of the mixture density network ops (flow.mdn_log_prob, flow.mdn_sample) in float,
// as native/mdn.cc's mdnLogProb / mdnSample: the conditioner (a ReLU MLP, mlp.h) runs one thread
// per context row through mlp_forward on that row alone (a context of one row runs it once, for
// every row, as the CPU does), then one thread per row runs mdn.h's mdn_row_log_prob or
// mdn_row_sample (component by one uniform, D normals; row i from Philox stream i of the seed).
// The dense layers sum each output in the CPU's order and nvcc compiles without fused
// multiply-adds, so the rows' arithmetic is the CPU's. A first, correct version: no tiling.
// Training (flow.mdn_train) takes the steps of src/backend/mdn_train_cpu.ts on the device: the
// conditioner's forward and backward as mlp.cuh's layer-parallel walks (mlp.cu's), the head's
// gradient mdn_row_backward one thread per row, then the scale to the batch mean, clip_grad_norm
// (one ordered sum, one thread) and adam_step (one parameter per thread).
#include "../common/cuda_launch_flows.h"
#include "../common/cuda_rows.cuh"
#include "../nn/mlp.cuh"
#include "mdn.h"

namespace sbi {
namespace cuda {
namespace {

// The conditioner's widths by value (a kernel argument).
struct MlpWidths {
  int layers;
  int64_t sizes[kMdnMaxLayers + 1];
};

// out [rows, K · W] = the conditioner's outputs for context rows first .. first + rows − 1.
__global__ void mdn_conditioner_kernel(MlpWidths w, int64_t first, int64_t rows, const float* params, const float* ctx,
                                       float* saved, int64_t saved_per_row, float* out) {
  const int64_t C = w.sizes[0], width = w.sizes[w.layers];
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < rows; i += step) {
    const float* o = nn::mlp_forward(nn::Activation::ReLU, w.layers, w.sizes, int64_t{1}, ctx + (first + i) * C,
                                     params, saved + i * saved_per_row);
    for (int64_t j = 0; j < width; ++j) out[i * width + j] = o[j];
  }
}

// log_prob[first + i] for i < rows from the output rows out (row stride out_stride: 0 for one row).
__global__ void mdn_log_prob_kernel(MdnShape s, int64_t first, int64_t rows, const float* out, int64_t out_stride,
                                    const float* y, float* log_prob) {
  float work[kMdnMaxWork];
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < rows; i += step) {
    const int64_t r = first + i;
    log_prob[r] = mdn_row_log_prob(s, out + i * out_stride, y + r * s.dim, work);
  }
}

__global__ void mdn_sample_kernel(MdnShape s, int64_t first, int64_t rows, const float* out, int64_t out_stride,
                                  uint64_t seed, float* y) {
  float work[kMdnMaxWork];
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < rows; i += step) {
    const int64_t r = first + i;
    PhiloxStream rng(seed, static_cast<uint64_t>(r));
    mdn_row_sample(s, out + i * out_stride, rng, y + r * s.dim, work);
  }
}

// Runs head(first, rows, out, out_stride) over launches of rows, with the conditioner's output
// rows of those rows (or the single broadcast row, out_stride 0) on the device.
template <class Head>
Status for_outputs(const MdnShape& head_shape, int layers, const int64_t* sizes, const float* params, int64_t n,
                   const float* ctx, int64_t ctx_rows, Head head) {
  if (n < 1 || (ctx_rows != 1 && ctx_rows != n)) return invalid_value("mdn: expected n >= 1 and 1 or n context rows");
  if (layers < 1 || layers > kMdnMaxLayers) return invalid_value("mdn: expected 1 to kMdnMaxLayers conditioner layers");
  if (mdn_work_size(head_shape) > kMdnMaxWork) return invalid_value("mdn: components + dim exceeds kMdnMaxWork");
  MlpWidths w{};
  w.layers = layers;
  for (int l = 0; l <= layers; ++l) w.sizes[l] = sizes[l];
  const int64_t width = sizes[layers];
  if (width != mdn_output_width(head_shape)) return invalid_value("mdn: the conditioner's output width is not K · W");
  const int64_t saved_per_row = nn::mlp_saved_size(nn::Activation::ReLU, layers, sizes, 1);
  const bool broadcast = ctx_rows == 1;
  const int64_t chunk = broadcast ? rows_per_launch(n, 1) : rows_per_launch(n, saved_per_row + width);
  DeviceBuffer<float> d_params, d_ctx, d_saved, d_out;
  SBI_CUDA_TRY(upload_copy(d_params, params, nn::mlp_param_count(layers, sizes), "params"));
  SBI_CUDA_TRY(upload_copy(d_ctx, ctx, ctx_rows * sizes[0], "context"));
  const int64_t out_rows = broadcast ? 1 : chunk;
  SBI_CUDA_TRY(d_saved.allocate(static_cast<size_t>(out_rows * saved_per_row), "conditioner activations"));
  SBI_CUDA_TRY(d_out.allocate(static_cast<size_t>(out_rows * width), "conditioner outputs"));
  if (broadcast) {
    mdn_conditioner_kernel<<<1, 1>>>(w, 0, 1, d_params.get(), d_ctx.get(), d_saved.get(), saved_per_row, d_out.get());
    SBI_CUDA_TRY(finish_launch("mdn_conditioner_kernel"));
  }
  for (int64_t first = 0; first < n; first += chunk) {
    const int64_t rows = n - first < chunk ? n - first : chunk;
    if (!broadcast) {
      mdn_conditioner_kernel<<<grid_blocks(rows), kThreadsPerBlock>>>(w, first, rows, d_params.get(), d_ctx.get(),
                                                                       d_saved.get(), saved_per_row, d_out.get());
      SBI_CUDA_TRY(finish_launch("mdn_conditioner_kernel"));
    }
    SBI_CUDA_TRY(head(first, rows, static_cast<const float*>(d_out.get()), broadcast ? int64_t{0} : width));
  }
  return Status{};
}

// log_q[r] and dout [n, K · W] = ∂ log q_r / ∂o_r (mdn_row_backward with g = 1), one thread per row.
__global__ void mdn_backward_kernel(MdnShape s, int64_t n, const float* out, const float* y, float* dout,
                                    float* log_q) {
  float work[kMdnMaxWork];
  const int64_t W = mdn_output_width(s);
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t r = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; r < n; r += step)
    log_q[r] = mdn_row_backward(s, out + r * W, y + r * s.dim, 1.0f, dout + r * W, work);
}

// grads ← (−1 / n) · grads, the product in double rounded once (mdn_train_cpu.ts's scaling).
__global__ void mdn_mean_scale_kernel(int64_t p, double scale, float* grads) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t j = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; j < p; j += step)
    grads[j] = static_cast<float>(static_cast<double>(grads[j]) * scale);
}

// One thread: clip_grad_norm over the whole gradient, and the batch-mean −log q (in double, rows in order).
__global__ void mdn_clip_and_loss_kernel(int64_t p, float* grads, double max_norm, int64_t n, const float* log_q,
                                         double* loss) {
  if (blockIdx.x != 0 || threadIdx.x != 0) return;
  nn::clip_grad_norm(p, grads, max_norm);
  double sum = 0;
  for (int64_t r = 0; r < n; ++r) sum -= static_cast<double>(log_q[r]);
  *loss = sum / static_cast<double>(n);
}

}  // namespace

Status mdn_log_prob(const MdnShape& head, int layers, const int64_t* sizes, const float* params, int64_t n,
                    const float* y, const float* ctx, int64_t ctx_rows, float* log_prob) {
  if (n < 1) return invalid_value("mdn: expected at least one row");
  DeviceBuffer<float> d_y, d_log_prob;
  SBI_CUDA_TRY(upload_copy(d_y, y, n * head.dim, "y"));
  SBI_CUDA_TRY(d_log_prob.allocate(static_cast<size_t>(n), "logProb"));
  SBI_CUDA_TRY(for_outputs(head, layers, sizes, params, n, ctx, ctx_rows,
                           [&](int64_t first, int64_t rows, const float* out, int64_t out_stride) {
                             mdn_log_prob_kernel<<<grid_blocks(rows), kThreadsPerBlock>>>(
                                 head, first, rows, out, out_stride, d_y.get(), d_log_prob.get());
                             return finish_launch("mdn_log_prob_kernel");
                           }));
  return d_log_prob.download(log_prob);
}

Status mdn_sample(const MdnShape& head, int layers, const int64_t* sizes, const float* params, int64_t n,
                  const float* ctx, int64_t ctx_rows, uint64_t seed, float* y) {
  if (n < 1) return invalid_value("mdn: expected at least one row");
  DeviceBuffer<float> d_y;
  SBI_CUDA_TRY(d_y.allocate(static_cast<size_t>(n * head.dim), "y"));
  SBI_CUDA_TRY(for_outputs(head, layers, sizes, params, n, ctx, ctx_rows,
                           [&](int64_t first, int64_t rows, const float* out, int64_t out_stride) {
                             mdn_sample_kernel<<<grid_blocks(rows), kThreadsPerBlock>>>(head, first, rows, out,
                                                                                        out_stride, seed, d_y.get());
                             return finish_launch("mdn_sample_kernel");
                           }));
  return d_y.download(y);
}

Status mdn_train(const MdnShape& head, int layers, const int64_t* sizes, double learning_rate, double clip_max_norm,
                 int batches, const int64_t* rows, const float* y, const float* ctx, float* params, double* losses) {
  if (batches < 1) return invalid_value("mdn: expected at least one batch");
  if (layers < 1 || sizes[layers] != mdn_output_width(head))
    return invalid_value("mdn: the conditioner's output width is not K · W");
  if (mdn_work_size(head) > kMdnMaxWork) return invalid_value("mdn: components + dim exceeds kMdnMaxWork");
  int64_t max_rows = 0;
  for (int b = 0; b < batches; ++b) {
    if (rows[b] < 1) return invalid_value("mdn: every batch needs at least one row");
    max_rows = rows[b] > max_rows ? rows[b] : max_rows;
  }
  const nn::Activation relu = nn::Activation::ReLU;
  const int64_t P = nn::mlp_param_count(layers, sizes), W = sizes[layers], C = sizes[0], D = head.dim;
  const int64_t width = nn::mlp_max_width(layers, sizes);
  DeviceBuffer<float> d_params, d_grads, d_ctx, d_y, d_saved, d_dout, d_log_q, d_dz, d_dx0, d_dx1;
  DeviceBuffer<double> d_losses;
  SBI_CUDA_TRY(upload_copy(d_params, params, P, "params"));
  SBI_CUDA_TRY(d_grads.allocate(static_cast<size_t>(P), "grads"));
  AdamMoments moments;
  SBI_CUDA_TRY(moments.allocate(P));
  SBI_CUDA_TRY(d_ctx.allocate(static_cast<size_t>(max_rows * C), "context"));
  SBI_CUDA_TRY(d_y.allocate(static_cast<size_t>(max_rows * D), "y"));
  SBI_CUDA_TRY(d_saved.allocate(static_cast<size_t>(nn::mlp_saved_size(relu, layers, sizes, max_rows)), "saved"));
  SBI_CUDA_TRY(d_dout.allocate(static_cast<size_t>(max_rows * W), "dout"));
  SBI_CUDA_TRY(d_log_q.allocate(static_cast<size_t>(max_rows), "log q"));
  SBI_CUDA_TRY(d_dz.allocate(static_cast<size_t>(max_rows * width), "dz"));
  SBI_CUDA_TRY(d_dx0.allocate(static_cast<size_t>(max_rows * width), "dx"));
  SBI_CUDA_TRY(d_dx1.allocate(static_cast<size_t>(max_rows * width), "dx"));
  SBI_CUDA_TRY(d_losses.allocate(static_cast<size_t>(batches), "losses"));
  float* const dx[2] = {d_dx0.get(), d_dx1.get()};
  nn::AdamConfig adam;  // nnAdamStep's defaults but the learning rate, as the CPU steps take them
  adam.lr = learning_rate;
  int64_t first = 0;
  for (int b = 0; b < batches; ++b) {
    const int64_t n = rows[b];
    SBI_CUDA_CALL(cudaMemcpy(d_ctx.get(), ctx + first * C, static_cast<size_t>(n * C) * sizeof(float),
                             cudaMemcpyHostToDevice));
    SBI_CUDA_CALL(cudaMemcpy(d_y.get(), y + first * D, static_cast<size_t>(n * D) * sizeof(float),
                             cudaMemcpyHostToDevice));
    first += n;
    SBI_CUDA_TRY(mlp_forward_device(relu, layers, sizes, n, d_ctx.get(), d_params.get(), d_saved.get()));
    int64_t out_off = 0;  // the output Y_{L-1} in saved
    for (int l = 0; l + 1 < layers; ++l) out_off += n * sizes[l + 1];
    mdn_backward_kernel<<<grid_blocks(n), kThreadsPerBlock>>>(head, n, d_saved.get() + out_off, d_y.get(), d_dout.get(),
                                                              d_log_q.get());
    SBI_CUDA_TRY(finish_launch("mdn_backward_kernel"));
    SBI_CUDA_TRY(mlp_backward_device(relu, layers, sizes, n, d_ctx.get(), d_params.get(), d_saved.get(), d_dout.get(),
                                     d_grads.get(), d_dz.get(), dx));
    mdn_mean_scale_kernel<<<grid_blocks(P), kThreadsPerBlock>>>(P, -1.0 / static_cast<double>(n), d_grads.get());
    SBI_CUDA_TRY(finish_launch("mdn_mean_scale_kernel"));
    mdn_clip_and_loss_kernel<<<1, 1>>>(P, d_grads.get(), clip_max_norm, n, d_log_q.get(), d_losses.get() + b);
    SBI_CUDA_TRY(finish_launch("mdn_clip_and_loss_kernel"));
    SBI_CUDA_TRY(moments.step(adam, b + 1, d_params.get(), d_grads.get()));
  }
  SBI_CUDA_TRY(d_params.download(params));
  return d_losses.download(losses);
}

}  // namespace cuda
}  // namespace sbi
