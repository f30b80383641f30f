// CUDA launchers of the MLP ops (nn.mlp_forward, nn.mlp_gradients, nn.mlp_train) in float: the
// layer walks of mlp.h's mlp_forward / mlp_backward (same saved-buffer and parameter layout),
// each dense layer as dense.cuh's one-thread-per-output kernels, whose sums run in the CPU's
// order; the loss (loss.h) and the Adam update (adam.h) are the headers' functions. A first,
// correct version: no shared-memory tiling, and the batch loss runs in one thread (it is one
// ordered sum, as on the CPU).
#include <vector>

#include "../common/cuda_util.cuh"
#include "loss.h"
#include "mlp.cuh"

namespace sbi {
namespace cuda {
namespace {

using nn::Activation;

Status check_shape(int layers, const int64_t* sizes, int64_t n) {
  Status s;
  if (layers < 1 || n < 1) s.message = "mlp: expected at least one layer and one row";
  for (int l = 0; l <= layers && s.message.empty(); ++l)
    if (sizes[l] < 1) s.message = "mlp: layer widths must be positive";
  if (!s.message.empty()) s.code = static_cast<int>(cudaErrorInvalidValue);
  return s;
}

// The batch-mean loss (loss.h) and its gradient; loss_kind 0: BCE with logits, 1: MSE.
__global__ void loss_kernel(int loss_kind, int64_t n, int64_t dim, const float* pred, const float* target, float* grad,
                            float* loss) {
  if (blockIdx.x != 0 || threadIdx.x != 0) return;
  *loss = loss_kind == 0 ? nn::bce_with_logits(n, dim, pred, target, grad) : nn::mse(n, dim, pred, target, grad);
}

Status copy_to_device(float* dst, const float* src, int64_t count) {
  return status_of(cudaMemcpy(dst, src, static_cast<size_t>(count) * sizeof(float), cudaMemcpyHostToDevice),
                   "cudaMemcpy to device");
}

// The device buffers of an MLP over batches of up to max_rows rows.
struct MlpWorkspace {
  DeviceBuffer<float> params, x, saved, dout, grads, dz, dx0, dx1;
  Status allocate(Activation act, int layers, const int64_t* sizes, int64_t max_rows, bool backward) {
    const int64_t p = nn::mlp_param_count(layers, sizes), width = nn::mlp_max_width(layers, sizes);
    SBI_CUDA_TRY(params.allocate(static_cast<size_t>(p), "params"));
    SBI_CUDA_TRY(x.allocate(static_cast<size_t>(max_rows * sizes[0]), "x"));
    SBI_CUDA_TRY(saved.allocate(static_cast<size_t>(nn::mlp_saved_size(act, layers, sizes, max_rows)), "saved"));
    if (!backward) return Status{};
    SBI_CUDA_TRY(dout.allocate(static_cast<size_t>(max_rows * sizes[layers]), "dout"));
    SBI_CUDA_TRY(grads.allocate(static_cast<size_t>(p), "grads"));
    SBI_CUDA_TRY(dz.allocate(static_cast<size_t>(max_rows * width), "dz"));
    SBI_CUDA_TRY(dx0.allocate(static_cast<size_t>(max_rows * width), "dx"));
    return dx1.allocate(static_cast<size_t>(max_rows * width), "dx");
  }
  // The output Y_{L-1} in saved.
  const float* output(int layers, const int64_t* sizes, int64_t n) const {
    int64_t off = 0;
    for (int l = 0; l + 1 < layers; ++l) off += n * sizes[l + 1];
    return saved.get() + off;
  }
};

}  // namespace

Status mlp_forward(int activation, int layers, const int64_t* sizes, int64_t n, const float* x, const float* params,
                   float* out) {
  SBI_CUDA_TRY(check_shape(layers, sizes, n));
  const Activation act = static_cast<Activation>(activation);
  MlpWorkspace ws;
  SBI_CUDA_TRY(ws.allocate(act, layers, sizes, n, false));
  SBI_CUDA_TRY(ws.params.upload(params));
  SBI_CUDA_TRY(ws.x.upload(x));
  SBI_CUDA_TRY(mlp_forward_device(act, layers, sizes, n, ws.x.get(), ws.params.get(), ws.saved.get()));
  return status_of(cudaMemcpy(out, ws.output(layers, sizes, n), static_cast<size_t>(n * sizes[layers]) * sizeof(float),
                              cudaMemcpyDeviceToHost),
                   "cudaMemcpy to host");
}

Status mlp_gradients(int activation, int layers, const int64_t* sizes, int64_t n, const float* x, const float* params,
                     const float* dout, float* grads) {
  SBI_CUDA_TRY(check_shape(layers, sizes, n));
  const Activation act = static_cast<Activation>(activation);
  MlpWorkspace ws;
  SBI_CUDA_TRY(ws.allocate(act, layers, sizes, n, true));
  SBI_CUDA_TRY(ws.params.upload(params));
  SBI_CUDA_TRY(ws.x.upload(x));
  SBI_CUDA_TRY(ws.dout.upload(dout));
  SBI_CUDA_TRY(mlp_forward_device(act, layers, sizes, n, ws.x.get(), ws.params.get(), ws.saved.get()));
  float* const dx[2] = {ws.dx0.get(), ws.dx1.get()};
  SBI_CUDA_TRY(mlp_backward_device(act, layers, sizes, n, ws.x.get(), ws.params.get(), ws.saved.get(), ws.dout.get(),
                        ws.grads.get(), ws.dz.get(), dx));
  return ws.grads.download(grads);
}

Status mlp_train(int activation, int layers, const int64_t* sizes, int loss, const AdamSettings& adam, int batches,
                 const int64_t* rows, const float* x, const float* target, float* params, double* losses) {
  if (batches < 1) return Status{};
  int64_t max_rows = 0;
  for (int b = 0; b < batches; ++b) max_rows = rows[b] > max_rows ? rows[b] : max_rows;
  SBI_CUDA_TRY(check_shape(layers, sizes, max_rows));
  const Activation act = static_cast<Activation>(activation);
  const int64_t p = nn::mlp_param_count(layers, sizes), out_dim = sizes[layers];
  nn::AdamConfig c;
  c.lr = adam.lr;
  c.beta1 = adam.beta1;
  c.beta2 = adam.beta2;
  c.eps = adam.eps;
  c.weight_decay = adam.weight_decay;
  c.decoupled = adam.decoupled;
  MlpWorkspace ws;
  DeviceBuffer<float> d_target, d_losses;
  AdamMoments moments;
  SBI_CUDA_TRY(ws.allocate(act, layers, sizes, max_rows, true));
  SBI_CUDA_TRY(d_target.allocate(static_cast<size_t>(max_rows * out_dim), "target"));
  SBI_CUDA_TRY(moments.allocate(p));
  SBI_CUDA_TRY(d_losses.allocate(static_cast<size_t>(batches), "losses"));
  SBI_CUDA_TRY(ws.params.upload(params));
  float* const dx[2] = {ws.dx0.get(), ws.dx1.get()};
  int64_t x_off = 0, t_off = 0;
  for (int b = 0; b < batches; ++b) {
    const int64_t n = rows[b];
    SBI_CUDA_TRY(copy_to_device(ws.x.get(), x + x_off, n * sizes[0]));
    SBI_CUDA_TRY(copy_to_device(d_target.get(), target + t_off, n * out_dim));
    x_off += n * sizes[0];
    t_off += n * out_dim;
    SBI_CUDA_TRY(mlp_forward_device(act, layers, sizes, n, ws.x.get(), ws.params.get(), ws.saved.get()));
    loss_kernel<<<1, 1>>>(loss, n, out_dim, ws.output(layers, sizes, n), d_target.get(), ws.dout.get(),
                          d_losses.get() + b);
    SBI_CUDA_TRY(finish_launch("loss_kernel"));
    SBI_CUDA_TRY(mlp_backward_device(act, layers, sizes, n, ws.x.get(), ws.params.get(), ws.saved.get(), ws.dout.get(),
                          ws.grads.get(), ws.dz.get(), dx));
    SBI_CUDA_TRY(moments.step(c, b + 1, ws.params.get(), ws.grads.get()));
  }
  SBI_CUDA_TRY(ws.params.download(params));
  std::vector<float> step_losses(static_cast<size_t>(batches));
  SBI_CUDA_TRY(d_losses.download(step_losses.data()));
  for (int b = 0; b < batches; ++b) losses[b] = static_cast<double>(step_losses[static_cast<size_t>(b)]);
  return Status{};
}

}  // namespace cuda
}  // namespace sbi
