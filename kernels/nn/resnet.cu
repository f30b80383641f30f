// CUDA launcher of nre.log_ratio in float, as native/ratio_trainer.cc's RatioLogits without an
// embedding: one thread per pair z-scores its θ and x row (standardize.h's standardize_to_float:
// double, rounded once) into [z(θ), z(x)] and runs resnet.h's resnet_forward on that row alone.
// The dense layers sum each output in the CPU's order and nvcc compiles without fused
// multiply-adds, so every logit should be the CPU's. A first, correct version: the weights are
// read from global memory by every thread, not tiled.
// Training (nre.train) takes the steps of src/backend/ratio_ops.ts's cpuNreTrainSteps on the
// device: resnet.h's forward and backward walked layer by layer with dense.cuh's one-thread-per-
// output kernels (sums in the CPU's order; the residual blocks' elementwise parts as residual.h
// orders them), ratio_loss and clip_grad_norm in one thread (ordered sums), adam_step one
// parameter per thread.
#include "../common/cuda_launch_flows.h"
#include "../common/cuda_rows.cuh"
#include "mlp.cuh"
#include "ratio_loss.h"
#include "resnet.h"
#include "standardize.h"

namespace sbi {
namespace cuda {
namespace {

// The embedding network's widths by value (a kernel argument); layers 0: none.
struct EmbeddingWidths {
  int layers;
  int64_t sizes[kNreMaxEmbedWidths];
};

// Row i's workspace: its input row [net.in], resnet_forward's saved activations, then (with an
// embedding) z(x) [C] and the embedding's saved activations.
__global__ void nre_log_ratio_kernel(nn::ResNetShape net, int theta_dim, int x_dim, EmbeddingWidths emb,
                                     const float* eparams, int64_t first, int64_t rows, const float* params,
                                     const double* stats, const double* theta, const double* x, int64_t x_stride,
                                     float* work, int64_t work_per_row, double* out) {
  const double* theta_mean = stats;
  const double* theta_std = stats + theta_dim;
  const double* x_mean = theta_std + theta_dim;
  const double* x_std = x_mean + x_dim;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < rows; i += step) {
    const int64_t r = first + i;
    float* input = work + i * work_per_row;
    float* saved = input + net.in;
    nn::standardize_to_float(theta_dim, theta + r * theta_dim, theta_mean, theta_std, input);
    if (emb.layers == 0) {
      nn::standardize_to_float(x_dim, x + r * x_stride, x_mean, x_std, input + theta_dim);
    } else {  // RatioLogits' features: the embedding of z(x)
      float* zx = saved + nn::resnet_saved_size(net, 1);
      nn::standardize_to_float(x_dim, x + r * x_stride, x_mean, x_std, zx);
      const float* f = nn::mlp_forward(nn::Activation::ReLU, emb.layers, emb.sizes, int64_t{1},
                                       static_cast<const float*>(zx), eparams, zx + x_dim);
      for (int64_t j = 0; j < net.in - theta_dim; ++j) input[theta_dim + j] = f[j];
    }
    float logit;
    nn::resnet_forward(net, int64_t{1}, params, static_cast<const float*>(input), saved, &logit);
    out[r] = static_cast<double>(logit);
  }
}

// y[i] = act(x[i]) (activate_row).
__global__ void activate_kernel(nn::Activation act, int64_t total, const float* x, float* y) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t k = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; k < total; k += step)
    y[k] = nn::activate(act, x[k]);
}

// y[i] = a[i] + y[i] when y_first is false, y[i] + a[i] otherwise (residual.h's two skip sums).
__global__ void add_kernel(int64_t total, const float* a, float* y, bool y_first) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t k = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; k < total; k += step)
    y[k] = y_first ? y[k] + a[k] : a[k] + y[k];
}

// One dense layer's forward (dense_forward) on the device.
Status dense_forward_device(nn::Activation act, int64_t n, int64_t in, int64_t out, const float* x, const float* w,
                            float* y, float* pre) {
  dense_forward_kernel<float><<<grid_blocks(n * out), kThreadsPerBlock>>>(act, n, in, out, x, w, w + out * in, y, pre);
  return finish_launch("dense_forward_kernel");
}

// One dense layer's backward (dense_backward): dz = dy ⊙ act'(pre, y), dW and db over the rows,
// dx over the outputs (when dx is not null).
Status dense_backward_device(nn::Activation act, int64_t n, int64_t in, int64_t out, const float* x, const float* w,
                             const float* y, const float* pre, const float* dy, float* dz, float* dx, float* dw) {
  dense_dz_kernel<float><<<grid_blocks(n * out), kThreadsPerBlock>>>(act, n * out, pre, y, dy, dz);
  SBI_CUDA_TRY(finish_launch("dense_dz_kernel"));
  dense_dw_kernel<float><<<grid_blocks(out * (in + 1)), kThreadsPerBlock>>>(n, in, out, x, dz, dw, dw + out * in);
  SBI_CUDA_TRY(finish_launch("dense_dw_kernel"));
  if (dx == nullptr) return Status{};
  dense_dx_kernel<float><<<grid_blocks(n * in), kThreadsPerBlock>>>(n, in, out, w, dz, dx);
  return finish_launch("dense_dx_kernel");
}

// resnet_forward's walk: saved [resnet_saved_size(net, n)] as resnet.h lays it out, y [n, out].
Status resnet_forward_device(const nn::ResNetShape& s, int64_t n, const float* params, const float* x, float* saved,
                             float* y) {
  const int64_t H = s.hidden, nh = n * H;
  float* block_saved = saved + nh * (1 + s.blocks);
  SBI_CUDA_TRY(dense_forward_device(nn::Activation::Identity, n, s.in, H, x, params, saved, nullptr));
  for (int b = 0; b < s.blocks; ++b) {
    const float* w1 = params + nn::resnet_block_offset(s, b);
    const float* w2 = w1 + H * H + H;
    const float* h = saved + b * nh;
    float* a0 = block_saved + b * nn::residual_saved_size(n, H);
    float* z1 = a0 + nh;
    float* y1 = z1 + nh;
    float* next = saved + (b + 1) * nh;
    activate_kernel<<<grid_blocks(nh), kThreadsPerBlock>>>(s.act, nh, h, a0);
    SBI_CUDA_TRY(finish_launch("activate_kernel"));
    SBI_CUDA_TRY(dense_forward_device(s.act, n, H, H, a0, w1, y1, z1));
    SBI_CUDA_TRY(dense_forward_device(nn::Activation::Identity, n, H, H, y1, w2, next, nullptr));
    add_kernel<<<grid_blocks(nh), kThreadsPerBlock>>>(nh, h, next, true);  // y += x
    SBI_CUDA_TRY(finish_launch("add_kernel"));
  }
  return dense_forward_device(nn::Activation::Identity, n, H, s.out, saved + s.blocks * nh,
                              params + nn::resnet_block_offset(s, s.blocks), y, nullptr);
}

// resnet_backward's walk (no input gradient): grads from dy [n, out]; scratch holds 4 · n · max(H, out).
Status resnet_backward_device(const nn::ResNetShape& s, int64_t n, const float* params, const float* x,
                              const float* saved, const float* dy, float* grads, float* scratch) {
  const int64_t H = s.hidden, nh = n * H, width = n * (H > s.out ? H : s.out);
  const float* block_saved = saved + nh * (1 + s.blocks);
  float* dh = scratch;
  float* dh_below = scratch + width;
  float* dy1 = scratch + 2 * width;
  float* dz = scratch + 3 * width;
  const int64_t off_out = nn::resnet_block_offset(s, s.blocks);
  SBI_CUDA_TRY(dense_backward_device(nn::Activation::Identity, n, H, s.out, saved + s.blocks * nh, params + off_out,
                                     nullptr, nullptr, dy, dz, dh, grads + off_out));
  for (int b = s.blocks - 1; b >= 0; --b) {
    const int64_t off = nn::resnet_block_offset(s, b);
    const float* w1 = params + off;
    const float* w2 = w1 + H * H + H;
    float* g = grads + off;
    const float* h = saved + b * nh;
    const float* a0 = block_saved + b * nn::residual_saved_size(n, H);
    const float* z1 = a0 + nh;
    const float* y1 = z1 + nh;
    // residual_backward: layer 2 (identity) gives dy1, then layer 1 gives dA0 in dh_below
    SBI_CUDA_TRY(dense_backward_device(nn::Activation::Identity, n, H, H, y1, w2, nullptr, nullptr, dh, dz, dy1,
                                       g + H * H + H));
    SBI_CUDA_TRY(dense_backward_device(s.act, n, H, H, a0, w1, y1, z1, dy1, dz, dh_below, g));
    // dA0 ⊙ act'(X) in place (activation_backward_row with z = X, y = A0), then dX = dY + that
    dense_dz_kernel<float><<<grid_blocks(nh), kThreadsPerBlock>>>(s.act, nh, h, a0, dh_below, dh_below);
    SBI_CUDA_TRY(finish_launch("dense_dz_kernel"));
    add_kernel<<<grid_blocks(nh), kThreadsPerBlock>>>(nh, dh, dh_below, false);
    SBI_CUDA_TRY(finish_launch("add_kernel"));
    float* t = dh;
    dh = dh_below;
    dh_below = t;
  }
  return dense_backward_device(nn::Activation::Identity, n, s.in, H, x, params, nullptr, nullptr, dh, dz, nullptr, grads);
}

// One thread: the batch-mean loss and its gradient w.r.t. the logits, then (after the backward)
// nothing else; loss in double as nreLoss returns it.
__global__ void ratio_loss_kernel(nn::RatioLossConfig c, int64_t rows, const float* logits, float* dlogits,
                                  double* loss) {
  if (blockIdx.x != 0 || threadIdx.x != 0) return;
  *loss = static_cast<double>(nn::ratio_loss(c, rows, logits, dlogits));
}

__global__ void clip_kernel(int64_t p, float* grads, double max_norm) {
  if (blockIdx.x != 0 || threadIdx.x != 0) return;
  nn::clip_grad_norm(p, grads, max_norm);
}

}  // namespace

Status nre_log_ratio(const nn::ResNetShape& net, int theta_dim, int x_dim, const float* params, const double* stats,
                     int64_t n, const double* theta, const double* x, bool x_broadcast, double* out,
                     int embed_layers, const int64_t* embed_sizes, const float* embed_params) {
  if (n < 1) return invalid_value("nre: expected at least one row");
  if (embed_layers < 0 || embed_layers + 1 > kNreMaxEmbedWidths) return invalid_value("nre: too many embedding layers");
  EmbeddingWidths emb{};
  emb.layers = embed_layers;
  for (int l = 0; embed_layers > 0 && l <= embed_layers; ++l) emb.sizes[l] = embed_sizes[l];
  const int64_t features = embed_layers > 0 ? emb.sizes[embed_layers] : x_dim;
  if (net.in != int64_t{theta_dim} + features || net.out != 1 || (embed_layers > 0 && emb.sizes[0] != x_dim))
    return invalid_value("nre: expected a network on [θ, x] (or [θ, e(x)]) with one output");
  const nn::Activation relu = nn::Activation::ReLU;
  const int64_t embed_work = embed_layers > 0 ? x_dim + nn::mlp_saved_size(relu, embed_layers, emb.sizes, 1) : 0;
  const int64_t per_row = net.in + nn::resnet_saved_size(net, 1) + embed_work;
  const int64_t chunk = rows_per_launch(n, per_row);
  DeviceBuffer<float> d_params, d_eparams, d_work;
  DeviceBuffer<double> d_stats, d_theta, d_x, d_out;
  SBI_CUDA_TRY(upload_copy(d_params, params, nn::resnet_param_count(net), "params"));
  SBI_CUDA_TRY(upload_copy(d_eparams, embed_params, embed_layers > 0 ? nn::mlp_param_count(embed_layers, emb.sizes) : 0,
                           "embeddingParams"));
  SBI_CUDA_TRY(upload_copy(d_stats, stats, 2 * (int64_t{theta_dim} + x_dim), "z-scoring statistics"));
  SBI_CUDA_TRY(upload_copy(d_theta, theta, n * theta_dim, "theta"));
  SBI_CUDA_TRY(upload_copy(d_x, x, (x_broadcast ? 1 : n) * x_dim, "x"));
  SBI_CUDA_TRY(d_out.allocate(static_cast<size_t>(n), "out"));
  SBI_CUDA_TRY(d_work.allocate(static_cast<size_t>(chunk * per_row), "classifier workspace"));
  for (int64_t first = 0; first < n; first += chunk) {
    const int64_t rows = n - first < chunk ? n - first : chunk;
    nre_log_ratio_kernel<<<grid_blocks(rows), kThreadsPerBlock>>>(net, theta_dim, x_dim, emb, d_eparams.get(), first,
                                                                   rows, d_params.get(),
                                                                   d_stats.get(), d_theta.get(), d_x.get(),
                                                                   x_broadcast ? int64_t{0} : int64_t{x_dim},
                                                                   d_work.get(), per_row, d_out.get());
    SBI_CUDA_TRY(finish_launch("nre_log_ratio_kernel"));
  }
  return d_out.download(out);
}

Status nre_train(const nn::ResNetShape& net, const nn::RatioLossConfig& loss, double learning_rate,
                 double clip_max_norm, int batches, const int64_t* rows, const float* input, float* params,
                 double* losses) {
  if (batches < 1) return invalid_value("nre: expected at least one batch");
  if (net.out != 1) return invalid_value("nre: expected a classifier with one output");
  const int64_t A = nn::ratio_logits_per_row(loss);
  int64_t max_pairs = 0;
  for (int b = 0; b < batches; ++b) {
    if (rows[b] < 1) return invalid_value("nre: every batch needs at least one row");
    max_pairs = rows[b] * A > max_pairs ? rows[b] * A : max_pairs;
  }
  const int64_t P = nn::resnet_param_count(net), H = net.hidden;
  const int64_t width = max_pairs * (H > net.out ? H : net.out);
  DeviceBuffer<float> d_params, d_grads, d_input, d_saved, d_logits, d_dlogits, d_scratch;
  DeviceBuffer<double> d_losses;
  SBI_CUDA_TRY(upload_copy(d_params, params, P, "params"));
  SBI_CUDA_TRY(d_grads.allocate(static_cast<size_t>(P), "grads"));
  AdamMoments moments;
  SBI_CUDA_TRY(moments.allocate(P));
  SBI_CUDA_TRY(d_input.allocate(static_cast<size_t>(max_pairs * net.in), "input"));
  SBI_CUDA_TRY(d_saved.allocate(static_cast<size_t>(nn::resnet_saved_size(net, max_pairs)), "saved"));
  SBI_CUDA_TRY(d_logits.allocate(static_cast<size_t>(max_pairs), "logits"));
  SBI_CUDA_TRY(d_dlogits.allocate(static_cast<size_t>(max_pairs), "dlogits"));
  SBI_CUDA_TRY(d_scratch.allocate(static_cast<size_t>(4 * width), "backward scratch"));
  SBI_CUDA_TRY(d_losses.allocate(static_cast<size_t>(batches), "losses"));
  nn::AdamConfig adam;  // nnAdamStep's defaults but the learning rate, as the CPU steps take them
  adam.lr = learning_rate;
  int64_t first = 0;
  for (int b = 0; b < batches; ++b) {
    const int64_t pairs = rows[b] * A;
    SBI_CUDA_CALL(cudaMemcpy(d_input.get(), input + first * net.in, static_cast<size_t>(pairs * net.in) * sizeof(float),
                             cudaMemcpyHostToDevice));
    first += pairs;
    SBI_CUDA_TRY(resnet_forward_device(net, pairs, d_params.get(), d_input.get(), d_saved.get(), d_logits.get()));
    ratio_loss_kernel<<<1, 1>>>(loss, rows[b], d_logits.get(), d_dlogits.get(), d_losses.get() + b);
    SBI_CUDA_TRY(finish_launch("ratio_loss_kernel"));
    SBI_CUDA_TRY(resnet_backward_device(net, pairs, d_params.get(), d_input.get(), d_saved.get(), d_dlogits.get(),
                                        d_grads.get(), d_scratch.get()));
    clip_kernel<<<1, 1>>>(P, d_grads.get(), clip_max_norm);
    SBI_CUDA_TRY(finish_launch("clip_kernel"));
    SBI_CUDA_TRY(moments.step(adam, b + 1, d_params.get(), d_grads.get()));
  }
  SBI_CUDA_TRY(d_params.download(params));
  return d_losses.download(losses);
}

}  // namespace cuda
}  // namespace sbi
