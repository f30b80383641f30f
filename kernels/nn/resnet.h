// Residual network of nflows' ResidualNet (sbi's "resnet" classifier, no batch norm, no dropout):
//   h_0 = X · W_inᵀ + b_in,  h_{b+1} = residual block b (residual.h) of h_b,  Y = h_B · W_outᵀ + b_out
// X [N, in], h [N, H], Y [N, out]. Parameters, one flat vector: W_in [H, in], b_in [H], then per
// block W1 [H, H], b1 [H], W2 [H, H], b2 [H], then W_out [out, H], b_out [out].
// `saved` [resnet_saved_size] keeps h_0..h_B and each block's activations between forward and
// backward; `scratch` [resnet_scratch_size] is backward workspace. The input gradient dX [N, in]
// is formed only when asked for (a jointly trained embedding below the network needs it).
// Templated on the scalar; caller-owned memory, no allocation.
#pragma once
#include "dense.h"
#include "residual.h"

namespace sbi {
namespace nn {

struct ResNetShape {
  int64_t in, hidden, out;
  int blocks;
  Activation act;
};

SBI_HD int64_t resnet_param_count(const ResNetShape& s) {
  return s.hidden * (s.in + 1) + s.blocks * 2 * s.hidden * (s.hidden + 1) + s.out * (s.hidden + 1);
}
// Offset of block b's W1 (b = blocks: the output layer's W_out).
SBI_HD int64_t resnet_block_offset(const ResNetShape& s, int b) {
  return s.hidden * (s.in + 1) + int64_t{b} * 2 * s.hidden * (s.hidden + 1);
}
SBI_HD int64_t resnet_saved_size(const ResNetShape& s, int64_t n) {
  return n * s.hidden * (1 + s.blocks) + s.blocks * residual_saved_size(n, s.hidden);
}
SBI_HD int64_t resnet_scratch_size(const ResNetShape& s, int64_t n) { return 3 * n * s.hidden; }

template <class T>
SBI_HD void resnet_forward(const ResNetShape& s, int64_t n, const T* params, const T* x, T* saved, T* y) {
  const int64_t H = s.hidden, nh = n * H;
  T* block_saved = saved + nh * (1 + s.blocks);
  dense_forward(Activation::Identity, n, s.in, H, x, params, params + H * s.in, saved, static_cast<T*>(nullptr));
  for (int b = 0; b < s.blocks; ++b) {
    const T* w1 = params + resnet_block_offset(s, b);
    const T* b1 = w1 + H * H;
    const T* w2 = b1 + H;
    residual_forward(s.act, n, H, saved + b * nh, w1, b1, w2, w2 + H * H, block_saved + b * residual_saved_size(n, H),
                     saved + (b + 1) * nh);
  }
  const T* w_out = params + resnet_block_offset(s, s.blocks);
  dense_forward(Activation::Identity, n, H, s.out, saved + s.blocks * nh, w_out, w_out + s.out * H, y,
                static_cast<T*>(nullptr));
}

// grads [resnet_param_count] (overwritten, summed over the rows) from dY [N, out]; dx [N, in]
// (overwritten) receives the input gradient unless it is null.
template <class T>
SBI_HD void resnet_backward(const ResNetShape& s, int64_t n, const T* params, const T* x, const T* saved, const T* dy,
                            T* grads, T* scratch, T* dx = nullptr) {
  const int64_t H = s.hidden, nh = n * H;
  const T* block_saved = saved + nh * (1 + s.blocks);
  T* dh = scratch;
  T* dh_below = scratch + nh;
  T* block_scratch = scratch + 2 * nh;
  const int64_t off_out = resnet_block_offset(s, s.blocks);
  dense_backward(Activation::Identity, n, H, s.out, saved + s.blocks * nh, params + off_out,
                 static_cast<const T*>(nullptr), static_cast<const T*>(nullptr), dy, dh, grads + off_out,
                 grads + off_out + s.out * H);
  for (int b = s.blocks - 1; b >= 0; --b) {
    const int64_t off = resnet_block_offset(s, b);
    const T* w1 = params + off;
    const T* w2 = w1 + H * H + H;
    T* g = grads + off;
    residual_backward(s.act, n, H, saved + b * nh, w1, w2, block_saved + b * residual_saved_size(n, H), dh,
                      block_scratch, dh_below, g, g + H * H, g + H * H + H, g + 2 * H * H + H);
    T* t = dh;
    dh = dh_below;
    dh_below = t;
  }
  dense_backward(Activation::Identity, n, s.in, H, x, params, static_cast<const T*>(nullptr),
                 static_cast<const T*>(nullptr), dh, dx, grads, grads + H * s.in);
}

}  // namespace nn
}  // namespace sbi
