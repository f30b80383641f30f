// Multi-layer perceptron: L dense layers (dense.h), `act` after every hidden layer, identity
// after the last (its outputs are logits / raw predictions).
//   sizes [L + 1]: sizes[0] = input width, sizes[L] = output width.
//   params, flat: for l = 0..L-1, W_l [sizes[l+1], sizes[l]] row-major, then b_l [sizes[l+1]].
//   saved: Y_0 .. Y_{L-1} ([N, sizes[l+1]] each, Y_{L-1} = the output), then, only when
//          activation_needs_preactivation(act), Z_0 .. Z_{L-2} of the hidden layers.
//   forward : Y_l = act_l(Y_{l-1} W_lᵀ + b_l), Y_{-1} = X
//   backward: from dOut [N, sizes[L]], layer by layer from the top (dense_backward), the input
//             of each layer being the previous layer's output; grads has the layout of params
//             (overwritten, summed over the batch). The input gradient dX [N, sizes[0]] is
//             formed only when dx_input is given (a conditioner whose inputs depend on trained
//             parameters, as in the manifold flows' coupling layers).
// Templated on the scalar; caller-owned memory, no allocation. Math: docs/nn.md.
#pragma once
#include "dense.h"

namespace sbi {
namespace nn {

SBI_HD int64_t mlp_param_count(int layers, const int64_t* sizes) {
  int64_t p = 0;
  for (int l = 0; l < layers; ++l) p += sizes[l + 1] * (sizes[l] + 1);
  return p;
}

SBI_HD int64_t mlp_max_width(int layers, const int64_t* sizes) {
  int64_t w = 0;
  for (int l = 1; l <= layers; ++l) w = sizes[l] > w ? sizes[l] : w;
  return w;
}

// Σ_l N · sizes[l+1] for the outputs, plus the hidden pre-activations when act needs them.
SBI_HD int64_t mlp_saved_size(Activation act, int layers, const int64_t* sizes, int64_t n) {
  int64_t outputs = 0, hidden = 0;
  for (int l = 0; l < layers; ++l) outputs += n * sizes[l + 1];
  for (int l = 0; l + 1 < layers; ++l) hidden += n * sizes[l + 1];
  return outputs + (activation_needs_preactivation(act) ? hidden : 0);
}

// Scratch the backward needs: two gradient buffers of the widest layer, [N, max width] each.
SBI_HD int64_t mlp_scratch_size(int layers, const int64_t* sizes, int64_t n) {
  return 2 * n * mlp_max_width(layers, sizes);
}

// Returns the output Y_{L-1} (a pointer into saved).
template <class T>
SBI_HD const T* mlp_forward(Activation act, int layers, const int64_t* sizes, int64_t n, const T* x,
                            const T* params, T* saved) {
  const bool keep_pre = activation_needs_preactivation(act);
  T* pre = saved;
  for (int l = 0; l < layers; ++l) pre += n * sizes[l + 1];
  const T* in = x;
  const T* w = params;
  T* y = saved;
  for (int l = 0; l < layers; ++l) {
    const int64_t fan_in = sizes[l], fan_out = sizes[l + 1];
    const bool hidden = l + 1 < layers;
    dense_forward(hidden ? act : Activation::Identity, n, fan_in, fan_out, in, w, w + fan_out * fan_in, y,
                  hidden && keep_pre ? pre : static_cast<T*>(nullptr));
    if (hidden && keep_pre) pre += n * fan_out;
    in = y;
    y += n * fan_out;
    w += fan_out * (fan_in + 1);
  }
  return in;
}

template <class T>
SBI_HD void mlp_backward(Activation act, int layers, const int64_t* sizes, int64_t n, const T* x, const T* params,
                         const T* saved, const T* dout, T* grads, T* scratch, T* dx_input = nullptr) {
  const bool keep_pre = activation_needs_preactivation(act);
  // Offsets of each layer's output, pre-activation and parameters, walked from the top down.
  int64_t y_off = 0, p_off = 0, pre_off = 0;
  for (int l = 0; l < layers; ++l) {
    y_off += n * sizes[l + 1];
    p_off += sizes[l + 1] * (sizes[l] + 1);
  }
  for (int l = 0; l + 1 < layers; ++l) pre_off += n * sizes[l + 1];
  const T* saved_pre = saved + y_off;
  T* buf[2] = {scratch, scratch + n * mlp_max_width(layers, sizes)};
  const T* dy = dout;
  for (int l = layers - 1; l >= 0; --l) {
    const int64_t fan_in = sizes[l], fan_out = sizes[l + 1];
    const bool hidden = l + 1 < layers;
    y_off -= n * fan_out;
    p_off -= fan_out * (fan_in + 1);
    if (hidden) pre_off -= n * fan_out;
    const T* in = l > 0 ? saved + y_off - n * fan_in : x;
    T* dx = l > 0 ? buf[l & 1] : dx_input;
    dense_backward(hidden ? act : Activation::Identity, n, fan_in, fan_out, in, params + p_off, saved + y_off,
                   hidden && keep_pre ? saved_pre + pre_off : static_cast<const T*>(nullptr), dy, dx, grads + p_off,
                   grads + p_off + fan_out * fan_in);
    dy = dx;
  }
}

}  // namespace nn
}  // namespace sbi
